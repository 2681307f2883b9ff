#!/usr/bin/env bash
# The README's test command, for a fresh Debian/Ubuntu machine: installs the system packages
# (scripts/install-system-deps.sh), creates .venv if missing, installs the project with its test extras, then runs
# `python -m pytest` with this script's arguments. The exit status is pytest's, except that "no tests collected"
# (pytest's 5) fails with 1: a run that tested nothing must not pass.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-system-deps.sh

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    # Debian splits venv/ensurepip out of python3; install-system-deps.sh covers only the Apache side.
    echo "test.sh: installing python3-venv" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
  fi
  "$PYTHON" -m venv .venv
fi

# Reinstall only when the install's inputs changed since the last one, so reruns work offline: pyproject.toml,
# setup.py and the modules setup.py compiles (a compiled module shadows its source, so an edit must rebuild it).
stamp=.venv/.fcgi-handlers-install.sha256
compiled="$(grep -o '"fcgi_handlers/[^"]*\.py"' setup.py | tr -d '"')"
# shellcheck disable=SC2086 - one path per word
want="$(cat pyproject.toml setup.py $compiled | sha256sum | cut -d' ' -f1)"
# A source edited and then restored has the hash of the last install but is newer than its compiled module, which
# tests/test_build.py refuses: rebuild then too (the same check, from the installed package).
stale=no
if [ -f "$stamp" ] && ! .venv/bin/python -c 'import sys; from fcgi_handlers import build; sys.exit(bool(build.stale_modules()))' 2>/dev/null; then
  stale=yes
fi
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ] || [ "$stale" = yes ]; then
  .venv/bin/python -m pip install -q -e '.[test,fuzz]'
  echo "$want" > "$stamp"
fi

status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; failing" >&2
  exit 1
fi
exit "$status"
