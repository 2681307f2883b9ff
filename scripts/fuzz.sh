#!/usr/bin/env bash
# Run one coverage-guided fuzz target (fuzz/TARGET.py, atheris/libFuzzer) for SECONDS:
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]     e.g. scripts/fuzz.sh multipart_form 60 -runs=1000000
# The corpus and any crash-*/timeout-*/oom-* input go to $FUZZ_WORK (default .fuzz/TARGET); the corpus is seeded
# from the target's own seeds on the first run and grows across runs. Memory is capped (-rss_limit_mb, default
# 1024 MB, FUZZ_RSS_MB), and one input running longer than FUZZ_TIMEOUT seconds (default 10) is a finding too.
# Exit status: 0 when the time ran out with nothing found, libFuzzer's non-zero status on a finding, 2 on bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]; targets: $(targets)" >&2; exit 2; }
targets() { ls fuzz/*.py | sed -e 's|fuzz/||' -e 's|\.py$||' | grep -v '^_' | paste -sd ' '; }

[ $# -ge 2 ] || usage
target=$1; seconds=$2; shift 2
[[ "$target" =~ ^[a-z0-9_]+$ && -f "fuzz/$target.py" ]] || { echo "fuzz.sh: unknown target '$target'" >&2; usage; }
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "fuzz.sh: SECONDS must be a positive integer" >&2; usage; }

if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
if ! .venv/bin/python -c 'import atheris, fcgi_handlers' 2>/dev/null; then
  .venv/bin/python -m pip install -q -e '.[fuzz]'
fi

work="${FUZZ_WORK:-.fuzz/$target}"
mkdir -p "$work/corpus"
# Uploads and session files go to a private temporary directory, in memory where the machine has /dev/shm:
# creating a file there is much cheaper than on disk, and a run creates hundreds of thousands.
base=/dev/shm; [ -d "$base" ] && [ -w "$base" ] || base="${TMPDIR:-/tmp}"
scratch="$(mktemp -d "$base/fcgi-handlers-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
status=0
TMPDIR="$scratch" FUZZ_SCRATCH="$scratch" .venv/bin/python "fuzz/$target.py" \
  -max_total_time="$seconds" -rss_limit_mb="${FUZZ_RSS_MB:-1024}" -timeout="${FUZZ_TIMEOUT:-10}" \
  -print_final_stats=1 -artifact_prefix="$work/" "$@" "$work/corpus" || status=$?
exit "$status"
