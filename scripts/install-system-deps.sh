#!/usr/bin/env bash
# Installs the Debian packages fcgi_handlers' demo, tests and benchmarks need, and leaves the system Apache startable.
# Idempotent: installs nothing when everything is present. Needs root (or sudo) and apt.
set -euo pipefail

# gcc and the Python headers let pip compile the per-request modules with mypyc (setup.py); without them the
# package installs as pure Python.
PKGS=(apache2 apache2-utils libapache2-mod-python libapache2-mod-wsgi-py3 wrk curl
      docker.io docker-compose debootstrap gcc libc6-dev python3-dev
      redis-server    # RedisSession's tests start their own redis-server on a free loopback port
      chromium)       # headless, for the status page's ?html test
# The README's system install makes a virtualenv with Debian's python3 (which refuses pip installs, PEP 668).
PKGS+=(python3-venv)
# --bench adds the FastCGI peers benchmarks/bench.py measures the daemon against (php-fpm, uWSGI, a C responder on
# libfcgi, built with the C compiler).
BENCH_PKGS=(php8.2-fpm uwsgi-core uwsgi-plugin-python3 libfcgi-dev)
case "${1:-}" in
  --minimal) PKGS=(apache2 curl) ;;
  --bench) PKGS+=("${BENCH_PKGS[@]}") ;;
esac

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo

# Leave the system Apache startable. mod_python and mod_wsgi each embed a Python interpreter and mod_wsgi refuses to
# start beside mod_python, so an Apache with both enabled fails at start ("Configuration Failed") although
# `apache2ctl -t` says Syntax OK (the check runs at start, not at parse). Debian's postinst of each package enables
# its module; the demo and the tests load what they need into their own Apache, so after installing we disable the
# ones this run enabled. If both are enabled anyway (an earlier install did it), Apache cannot start: disable both
# and say so. APACHE_CONFDIR/APACHE_STATE_DIRECTORY point a2dismod (and this check) at another tree, as in the tests.
CONFDIR="${APACHE_CONFDIR:-/etc/apache2}"
mod_enabled() { [ -e "$CONFDIR/mods-enabled/$1.load" ]; }
was_enabled=()
for m in python wsgi; do mod_enabled "$m" && was_enabled+=("$m"); done
keep_apache_startable() {
  mod_enabled python && mod_enabled wsgi || return 0
  local off=()
  for m in python wsgi; do [[ " ${was_enabled[*]} " == *" $m "* ]] || off+=("$m"); done
  if [ ${#off[@]} -eq 0 ]; then
    off=(python wsgi)
    echo "install-system-deps: mod_python and mod_wsgi are both enabled in $CONFDIR, so Apache cannot start;" \
         "disabling both (a2enmod the one your sites use)" >&2
  else
    echo "install-system-deps: disabling ${off[*]} (enabled by its package; it cannot load beside the other," \
         "and the tests load what they need into their own Apache)" >&2
  fi
  $SUDO a2dismod -q "${off[@]}" >/dev/null
}

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  keep_apache_startable
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "install-system-deps: apt-get not found; install these yourself: ${missing[*]}" >&2
  exit 1
fi
if [ -n "$SUDO" ] && ! command -v sudo >/dev/null; then
  echo "install-system-deps: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi
echo "install-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
# policy-rc.d keeps the packages from starting their own services (apache2 on :80, dockerd) at install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
keep_apache_startable
