#!/usr/bin/env bash
# Two CI runs at once on this host, each from its own fresh clone: shows the suite is isolated per run (no shared
# /tmp paths, pid files or ports). Heavy (two whole suites side by side), so not part of every CI run.
#
#   scripts/two-runs.sh [REF] [-- PYTEST ARGS]   clone REF (default HEAD) of this repository twice, run `.ci/run`
#                                                in both at the same time, report each one's result
#
# Each run keeps its output in its clone's `ci.log`; the clones stay when a run fails (to read the logs) and are
# removed when both pass. Exit status: 0 when both runs pass, 1 otherwise, 2 for bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

ref=HEAD
if [ $# -gt 0 ] && [ "$1" != "--" ]; then ref="$1"; shift; fi
if [ $# -gt 0 ]; then
  [ "$1" = "--" ] || { echo "usage: $0 [REF] [-- PYTEST ARGS]" >&2; exit 2; }
  shift
fi
commit="$(git rev-parse --verify "$ref^{commit}" 2>/dev/null)" || { echo "two-runs: unknown ref $ref" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/fcgi-handlers-two-runs.XXXXXX")"
chmod 755 "$work"   # Apache's children (www-data when run as root) read the handler files under each clone
pids=()
for name in a b; do
  git clone -q --no-checkout "$PWD" "$work/$name"
  git -C "$work/$name" checkout -q "$commit"
  ( cd "$work/$name" && exec .ci/run "$@" ) >"$work/$name/ci.log" 2>&1 &
  pids+=("$!")
  echo "two-runs: run $name started (pid $!, log $work/$name/ci.log)" >&2
done

status=0
for i in 0 1; do
  name=$([ "$i" -eq 0 ] && echo a || echo b)
  if wait "${pids[$i]}"; then
    echo "two-runs: run $name passed: $(tail -n 1 "$work/$name/ci.log")"
  else
    echo "two-runs: run $name FAILED (exit $?); last lines of $work/$name/ci.log:"
    tail -n 30 "$work/$name/ci.log"
    status=1
  fi
done
if [ "$status" -eq 0 ]; then
  rm -rf "$work"
else
  echo "two-runs: clones kept in $work"
fi
exit "$status"
