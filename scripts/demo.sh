#!/usr/bin/env bash
# The README's first command: the daemon behind a private Apache on 127.0.0.1:8080 serving examples/.
# On a fresh Debian/Ubuntu machine it installs apache2 (apt) and the virtualenv first. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh --minimal
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv || { echo "demo: python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
fi
.venv/bin/python -c 'import fcgi_handlers' 2>/dev/null || .venv/bin/pip install -q -e .
exec .venv/bin/python -m fcgi_handlers demo "$@"
