#!/usr/bin/env bash
# Installs the Debian packages fcgi_handlers' demo, tests and benchmarks need.
# Idempotent: does nothing when everything is present. Needs root (or sudo) and apt.
set -euo pipefail

# gcc and the Python headers let pip compile the per-request modules with mypyc (setup.py); without them the
# package installs as pure Python.
PKGS=(apache2 apache2-utils libapache2-mod-python libapache2-mod-wsgi-py3 wrk curl
      docker.io docker-compose debootstrap gcc libc6-dev python3-dev
      redis-server)   # RedisSession's tests start their own redis-server on a free loopback port
# --bench adds the FastCGI peers benchmarks/bench.py measures the daemon against (php-fpm, uWSGI, a C responder on
# libfcgi, built with the C compiler).
BENCH_PKGS=(php8.2-fpm uwsgi-core uwsgi-plugin-python3 libfcgi-dev)
case "${1:-}" in
  --minimal) PKGS=(apache2 curl) ;;
  --bench) PKGS+=("${BENCH_PKGS[@]}") ;;
esac

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "install-system-deps: apt-get not found; install these yourself: ${missing[*]}" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-system-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
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
