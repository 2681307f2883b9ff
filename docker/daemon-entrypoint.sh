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
fi
exec fcgi-handlers "$@"
