#!/usr/bin/env bash
# Starts dockerd in the background when no Docker daemon answers, for the Docker tests (tests/docker/) and CI, and
# stops it again only when the last run that uses it is done.
#
#   scripts/start-dockerd.sh [--holder PID]          use dockerd: start it unless `docker info` already works, wait
#                                                    until it answers (bounded), record PID as one of its users
#   scripts/start-dockerd.sh --stop [--holder PID]   PID is done with it: stop the dockerd this script started once
#                                                    no live user is left; a dockerd it did not start is never stopped
#
# PID (default: the caller's, $PPID) names the process whose lifetime is one use: a test session passes its own PID.
# Two runs on one host share one dockerd (it is host-wide), so every run registers, and `--stop` from one run leaves
# the daemon up while another registered process is alive. A user whose process has died no longer counts, so a
# crashed run cannot keep dockerd forever. A daemon that was already running when this script first looked is never
# recorded and never stopped. Start and stop hold a lock, so two runs do not both start a daemon.
# State (lock, dockerd's PID, users, log) lives in $DOCKERD_STATE_DIR: one per host on purpose, because the daemon is.
# Exit status: 0 when `docker info` works (or the stop did what it says), 1 when dockerd could not be started.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo -n"   # dockerd needs root; never prompt in a test run
fi
if [ "$(id -u)" -eq 0 ]; then
  DOCKERD_STATE_DIR="${DOCKERD_STATE_DIR:-/run/fcgi-handlers-dockerd}"
else
  DOCKERD_STATE_DIR="${DOCKERD_STATE_DIR:-${XDG_RUNTIME_DIR:-${TMPDIR:-/tmp}}/fcgi-handlers-dockerd-$(id -u)}"
fi
DOCKERD_PIDFILE="$DOCKERD_STATE_DIR/dockerd.pid"
DOCKERD_LOG="$DOCKERD_STATE_DIR/dockerd.log"
USERS_DIR="$DOCKERD_STATE_DIR/users"
DOCKERD_START_TIMEOUT="${DOCKERD_START_TIMEOUT:-60}"   # seconds to wait for `docker info`
LOCK_TIMEOUT=$((DOCKERD_START_TIMEOUT + 90))          # another run may hold the lock while its dockerd starts

docker_answers() { docker info >/dev/null 2>&1 || $SUDO docker info >/dev/null 2>&1; }

recorded_pid() {
  # The recorded PID, only if that process is still a dockerd (PIDs are reused).
  local pid
  pid="$(cat "$DOCKERD_PIDFILE" 2>/dev/null || true)"
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = dockerd ] && echo "$pid"
}

start_time() {
  # A process's start time (field 22 of /proc/PID/stat), so a reused PID is not taken for the user that had it.
  sed -E 's/^.*\) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20
}

register() {
  mkdir -p "$USERS_DIR"
  start_time "$HOLDER" > "$USERS_DIR/$HOLDER"
}

live_users() {
  # The registered users whose process is still the one that registered; stale entries are removed.
  local entry pid
  for entry in "$USERS_DIR"/*; do
    [ -e "$entry" ] || continue
    pid="$(basename "$entry")"
    if [ -d "/proc/$pid" ] && [ "$(start_time "$pid")" = "$(cat "$entry" 2>/dev/null)" ]; then
      echo "$pid"
    else
      rm -f "$entry"
    fi
  done
}

stop() {
  rm -f "$USERS_DIR/$HOLDER"
  local pid others
  pid="$(recorded_pid || true)"
  if [ -z "$pid" ]; then
    echo "start-dockerd: no dockerd started by this script is running" >&2
    rm -f "$DOCKERD_PIDFILE"
    return 0
  fi
  others="$(live_users | tr '\n' ' ')"
  if [ -n "$others" ]; then
    echo "start-dockerd: dockerd $pid is still used by ${others% }; leaving it running" >&2
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
    # Ours (recorded): count this user, so another run's --stop leaves it up. Someone else's: never stopped anyway.
    if [ -n "$(recorded_pid || true)" ]; then register; fi
    echo "start-dockerd: a Docker daemon is already running; using it" >&2
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
    # 9>&-: the daemon must not hold the lock.
    $SUDO setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
    local pid=$!
    # Under sudo, $! is sudo's PID; the recorded PID must be dockerd's own.
    if [ -n "$SUDO" ]; then
      sleep 1
      pid="$(pgrep -P "$pid" -x dockerd || echo "$pid")"
    fi
    # Until the background shell has exec'd setsid and setsid dockerd, the PID's name is not dockerd yet; on a
    # loaded machine that takes a while, and recorded_pid() would take it for a daemon that already exited.
    for _ in $(seq 1 100); do
      [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = dockerd ] || [ ! -d "/proc/$pid" ] && break
      sleep 0.1
    done
    echo "$pid" > "$DOCKERD_PIDFILE"
    echo "start-dockerd: started dockerd $pid (log: $DOCKERD_LOG)" >&2
  fi
  register
  local deadline=$((SECONDS + DOCKERD_START_TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if docker_answers; then
      echo "start-dockerd: docker info answers" >&2
      return 0
    fi
    if [ -z "$(recorded_pid || true)" ]; then
      echo "start-dockerd: dockerd exited; last lines of $DOCKERD_LOG:" >&2
      tail -n 20 "$DOCKERD_LOG" >&2 || true
      rm -f "$DOCKERD_PIDFILE" "$USERS_DIR/$HOLDER"
      return 1
    fi
    sleep 0.5
  done
  echo "start-dockerd: docker info did not answer within ${DOCKERD_START_TIMEOUT}s; last lines of $DOCKERD_LOG:" >&2
  tail -n 20 "$DOCKERD_LOG" >&2 || true
  return 1
}

usage() { echo "usage: $0 [--stop] [--holder PID]" >&2; exit 2; }

action=start
HOLDER="$PPID"
while [ $# -gt 0 ]; do
  case "$1" in
    --stop) action=stop ;;
    --holder) [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+$ ]] || usage; HOLDER="$2"; shift ;;
    *) usage ;;
  esac
  shift
done
[ -d "/proc/$HOLDER" ] || { echo "start-dockerd: --holder $HOLDER is not a running process" >&2; exit 2; }

mkdir -p "$DOCKERD_STATE_DIR"
exec 9>>"$DOCKERD_STATE_DIR/lock"
if ! flock -w "$LOCK_TIMEOUT" 9; then
  echo "start-dockerd: $DOCKERD_STATE_DIR/lock stayed held for ${LOCK_TIMEOUT}s" >&2
  exit 1
fi
"$action"
