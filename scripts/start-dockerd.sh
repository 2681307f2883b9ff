#!/usr/bin/env bash
# Starts dockerd in the background when no Docker daemon answers, for the Docker tests (tests/docker/) and CI.
#
#   scripts/start-dockerd.sh          start dockerd unless `docker info` already works; wait until it does (bounded)
#   scripts/start-dockerd.sh --stop   stop the dockerd this script started (by its recorded PID), nothing else
#
# A daemon that was already running is left alone and never recorded, so --stop cannot end someone else's dockerd.
# The PID of a daemon this script started is written to $DOCKERD_PIDFILE; its log goes to $DOCKERD_LOG.
# Exit status: 0 when `docker info` works, 1 when dockerd could not be started (the last log lines say why).
set -euo pipefail

DOCKERD_PIDFILE="${DOCKERD_PIDFILE:-/tmp/fcgi-handlers-dockerd.pid}"
DOCKERD_LOG="${DOCKERD_LOG:-/tmp/fcgi-handlers-dockerd.log}"
DOCKERD_START_TIMEOUT="${DOCKERD_START_TIMEOUT:-60}"   # seconds to wait for `docker info`

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo -n"   # dockerd needs root; never prompt in a test run
fi

docker_answers() { docker info >/dev/null 2>&1 || $SUDO docker info >/dev/null 2>&1; }

recorded_pid() {
  # The recorded PID, only if that process is still a dockerd (PIDs are reused).
  local pid
  pid="$(cat "$DOCKERD_PIDFILE" 2>/dev/null || true)"
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = dockerd ] && echo "$pid"
}

stop() {
  local pid
  pid="$(recorded_pid || true)"
  if [ -z "$pid" ]; then
    echo "start-dockerd: no dockerd started by this script is running" >&2
    rm -f "$DOCKERD_PIDFILE"
    return 0
  fi
  $SUDO kill -TERM "$pid"
  # dockerd stops its containers first (up to their stop timeouts), so allow it some time.
  for _ in $(seq 1 60); do
    [ -d "/proc/$pid" ] || { rm -f "$DOCKERD_PIDFILE"; echo "start-dockerd: stopped dockerd $pid" >&2; return 0; }
    sleep 0.5
  done
  echo "start-dockerd: dockerd $pid did not stop within 30s; sending SIGKILL" >&2
  $SUDO kill -KILL "$pid" || true
  rm -f "$DOCKERD_PIDFILE"
}

start() {
  if docker_answers; then
    echo "start-dockerd: a Docker daemon is already running; leaving it alone" >&2
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "start-dockerd: dockerd is not installed (Debian/Ubuntu: apt-get install docker.io)" >&2
    return 1
  fi
  if [ -n "$(recorded_pid || true)" ]; then
    echo "start-dockerd: dockerd $(recorded_pid) (started earlier) does not answer yet; waiting for it" >&2
  else
    # setsid: the daemon outlives this script and the caller's process group (pytest, CI step).
    $SUDO setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    local pid=$!
    # Under sudo, $! is sudo's PID; the recorded PID must be dockerd's own.
    if [ -n "$SUDO" ]; then
      sleep 1
      pid="$(pgrep -P "$pid" -x dockerd || echo "$pid")"
    fi
    echo "$pid" > "$DOCKERD_PIDFILE"
    echo "start-dockerd: started dockerd $pid (log: $DOCKERD_LOG)" >&2
  fi
  local deadline=$((SECONDS + DOCKERD_START_TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if docker_answers; then
      echo "start-dockerd: docker info answers" >&2
      return 0
    fi
    if [ -z "$(recorded_pid || true)" ]; then
      echo "start-dockerd: dockerd exited; last lines of $DOCKERD_LOG:" >&2
      tail -n 20 "$DOCKERD_LOG" >&2 || true
      rm -f "$DOCKERD_PIDFILE"
      return 1
    fi
    sleep 0.5
  done
  echo "start-dockerd: docker info did not answer within ${DOCKERD_START_TIMEOUT}s; last lines of $DOCKERD_LOG:" >&2
  tail -n 20 "$DOCKERD_LOG" >&2 || true
  return 1
}

case "${1:-}" in
  "") start ;;
  --stop) stop ;;
  *) echo "usage: $0 [--stop]" >&2; exit 2 ;;
esac
