#!/usr/bin/env bash
# The daemon image's entrypoint. `serve` (the default command) gets its settings from the environment, one flag per
# variable that is set and not empty; flags given to `docker run IMAGE serve ...` come after them and win. Any other
# command runs as `fcgi-handlers COMMAND ...` (`ping`, `apache-config`, `--help`).
#
#   FCGI_HANDLERS_CONFIG   --config FILE (a TOML file; the variables below override its values)
#   FCGI_HANDLERS_BIND     --bind HOST:PORT or unix:PATH (image default 0.0.0.0:9000)
#   FCGI_HANDLERS_PATH     --path DIR for each colon-separated directory (image default /srv/handlers)
#   FCGI_HANDLERS_WORKERS  --workers N
#   FCGI_HANDLERS_THREADS  --threads N
#   FCGI_HANDLERS_HANDLER  --handler SPEC
#   FCGI_HANDLERS_DEBUG    --debug when 1, on, true or yes
#
#   FCGI_HANDLERS_STOP_DELAY  seconds the daemon keeps serving after SIGTERM before its graceful stop begins
#                             (default 0). An orchestrator takes a stopping replica out of DNS when it sends SIGTERM
#                             (Swarm) or at about the same time (Kubernetes); Apache follows DNS every few seconds, so
#                             until it has, requests still arrive. A daemon that stopped accepting at once would leave
#                             them in its listen backlog, reset when it exits: a failed request for each.
set -euo pipefail

if [ "$#" -eq 0 ] || [ "$1" = serve ]; then
  [ "$#" -gt 0 ] && shift
  args=(serve)
  [ -n "${FCGI_HANDLERS_CONFIG:-}" ] && args+=(--config "$FCGI_HANDLERS_CONFIG")
  [ -n "${FCGI_HANDLERS_BIND:-}" ] && args+=(--bind "$FCGI_HANDLERS_BIND")
  IFS=: read -ra dirs <<< "${FCGI_HANDLERS_PATH:-}"
  for dir in "${dirs[@]}"; do
    [ -n "$dir" ] && args+=(--path "$dir")
  done
  [ -n "${FCGI_HANDLERS_WORKERS:-}" ] && args+=(--workers "$FCGI_HANDLERS_WORKERS")
  [ -n "${FCGI_HANDLERS_THREADS:-}" ] && args+=(--threads "$FCGI_HANDLERS_THREADS")
  [ -n "${FCGI_HANDLERS_HANDLER:-}" ] && args+=(--handler "$FCGI_HANDLERS_HANDLER")
  case "${FCGI_HANDLERS_DEBUG:-}" in
    1|on|On|ON|true|True|yes|Yes) args+=(--debug) ;;
  esac
  set -- "${args[@]}" "$@"
  delay="${FCGI_HANDLERS_STOP_DELAY:-0}"
  if ! [[ "$delay" =~ ^[0-9]+$ ]]; then
    echo "fcgi-handlers-entrypoint: FCGI_HANDLERS_STOP_DELAY=$delay is not a whole number of seconds" >&2
    exit 2
  fi
  if [ "$delay" -gt 0 ]; then
    # This shell stays PID 1: it delays SIGTERM, passes other signals on and exits with the daemon's status.
    fcgi-handlers "$@" &
    daemon=$!
    stopping=""
    on_term() {
      [ -n "$stopping" ] && return
      stopping=1
      echo "fcgi-handlers-entrypoint: SIGTERM; serving $delay s more while the balancer lets go" >&2
      sleep "$delay"
      kill -TERM "$daemon" 2>/dev/null || true
    }
    trap on_term TERM
    trap 'kill -INT "$daemon" 2>/dev/null || true' INT
    trap 'kill -HUP "$daemon" 2>/dev/null || true' HUP
    while true; do
      status=0
      wait "$daemon" || status=$?
      kill -0 "$daemon" 2>/dev/null || exit "$status"   # a signal ends `wait` early; the daemon still runs
    done
  fi
fi
exec fcgi-handlers "$@"
