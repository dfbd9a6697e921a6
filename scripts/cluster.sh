#!/usr/bin/env bash
# Several Rasa processes and action servers behind nginx, on one machine
# (make cluster / make cluster-stop; docs/deployment.md, "One machine").
#
#   scripts/cluster.sh start    start everything, return once all is healthy
#   scripts/cluster.sh stop     stop everything (supervisors first, then nginx)
#   scripts/cluster.sh status   one line per process; exit 0 only if all healthy
#
# Settings (environment; the Makefile passes its variables of the same names):
#   CLUSTER_RASA=3 CLUSTER_ACTIONS=2     how many of each
#   NPS_CLUSTER_PORT=8000                nginx's public port (on NPS_HOST)
#   CLUSTER_DB_URL=postgresql://postgres@127.0.0.1:5432/nps_cluster (created if missing)
#   NPS_LOCK_STORE_URL=redis://127.0.0.1:6379/1, NPS_DEDUP_REDIS_URL (default: the same)
#   CLUSTER_CREDENTIALS=credentials.yml  credentials.production.yml drops the REST channel
#   CLUSTER_START_TIMEOUT=600            seconds to wait for every process to be healthy
# The channels' secrets and URLs (FB_APP_SECRET, META_GRAPH_URL, WHATSAPP_*,
# TWILIO_*, NPS_*) are taken from the caller's environment as they are.
#
# Every process listens on a private loopback port chosen by the OS; only
# nginx's port is meant to be reached. Pid files, logs and nginx's own files
# are in var/cluster/: rasa-1.pid … rasa-N.pid, actions-1.pid …, nginx.pid.
# Each Rasa process and action server runs under a small supervisor (this
# script, `supervise`), which restarts it when it ends, with back-off, and
# rewrites its pid file: `kill -9 $(cat var/cluster/rasa-2.pid)` and it comes back.
set -euo pipefail
cd "$(dirname "$0")/.."

# CLUSTER_DIR moves the pid files and logs (tests use a temporary one).
DIR="$(realpath -m "${CLUSTER_DIR:-var/cluster}")"
umask 077

log() { printf '%s cluster: %s\n' "$(date '+%H:%M:%S')" "$*"; }

# --- supervisor (one per process, started detached by `start`) ---------------

# supervise NAME COMMAND...: run COMMAND, and again whenever it ends, until
# this supervisor gets TERM (which it passes on to COMMAND). The delay before
# a restart doubles up to 30 s while the process keeps dying young, and is
# back to 1 s after a run of a minute or more.
supervise() {
  set +e
  local name=$1
  shift
  local pidfile="$DIR/$name.pid" logfile="$DIR/$name.log"
  local child="" sleeper="" delay=1 started status stopping=0
  echo "$$" >"$DIR/$name.supervisor.pid"
  trap 'stopping=1; kill -TERM $child $sleeper 2>/dev/null' TERM INT
  while [ "$stopping" = 0 ]; do
    started=$SECONDS
    "$@" >>"$logfile" 2>&1 &
    child=$!
    echo "$child" >"$pidfile"
    wait "$child"
    status=$?
    # `wait` also returns when a trapped signal arrives: wait for the end.
    while kill -0 "$child" 2>/dev/null; do
      wait "$child"
      status=$?
    done
    [ "$stopping" = 1 ] && break
    if ((SECONDS - started >= 60)); then delay=1; fi
    log "$name (pid $child) ended with status $status; restarting in ${delay}s" >>"$logfile"
    sleep "$delay" &
    sleeper=$!
    wait "$sleeper"
    sleeper=""
    delay=$((delay * 2 > 30 ? 30 : delay * 2))
  done
  rm -f "$pidfile"
}

# --- helpers -------------------------------------------------------------------

# The pid in FILE when that process is alive and its command line contains
# WORD (a pid file left by a crash may name an unrelated process by now).
live_pid() {  # FILE WORD
  local pid
  [ -s "$1" ] || return 1
  pid="$(cat "$1")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" || return 1
  echo "$pid"
}

supervisors() { ls "$DIR"/*.supervisor.pid 2>/dev/null || true; }

settings() {
  eval "$(.venv/bin/python -m nps.settings --shell)"
  RASA_COUNT="${CLUSTER_RASA:-3}"
  ACTIONS_COUNT="${CLUSTER_ACTIONS:-2}"
  PUBLIC_PORT="${NPS_CLUSTER_PORT:-8000}"
  DB_URL="${CLUSTER_DB_URL:-postgresql://postgres@127.0.0.1:5432/nps_cluster}"
  LOCKS_URL="${NPS_LOCK_STORE_URL:-redis://127.0.0.1:6379/1}"
  DEDUP_URL="${NPS_DEDUP_REDIS_URL:-$LOCKS_URL}"
  CREDENTIALS="${CLUSTER_CREDENTIALS:-credentials.yml}"
  START_TIMEOUT="${CLUSTER_START_TIMEOUT:-600}"
  MODEL="${CLUSTER_MODEL:-models/nps-bot.tar.gz}"
  # Not NGINX: nginx reads that variable itself (sockets inherited in a binary upgrade).
  NGINX="${NGINX_BIN:-/usr/sbin/nginx}"
  for number in "$RASA_COUNT" "$ACTIONS_COUNT" "$PUBLIC_PORT" "$START_TIMEOUT"; do
    if ! [[ "$number" =~ ^[1-9][0-9]*$ ]]; then
      echo "CLUSTER_RASA, CLUSTER_ACTIONS, NPS_CLUSTER_PORT and CLUSTER_START_TIMEOUT" \
        "must be positive whole numbers (got '$number')" >&2
      exit 2
    fi
  done
}

# Rasa's HTTP API token, made once like scripts/run.sh does (var/rasa_token,
# mode 0600), unless RASA_TOKEN is set; it never goes on a command line.
ensure_token() {
  if [ -z "${RASA_TOKEN:-}" ] && [ ! -s var/rasa_token ]; then
    .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24), end="")' >var/rasa_token
  fi
}

# The state of a started cluster, for `status` and `stop` (no secrets in it).
state_file() { echo "$DIR/cluster.env"; }

healthy() {  # URL: answers 2xx
  curl -fs -o /dev/null --max-time 2 "$1"
}

# Every address that must answer before the cluster counts as started.
health_urls() {
  local port
  for port in $RASA_PORTS; do echo "http://$NPS_HOST:$port/"; done
  for port in $ACTIONS_PORTS; do echo "http://$NPS_HOST:$port/health"; done
  echo "http://$NPS_HOST:$ACTIONS_LB_PORT/health"
}

# --- start -------------------------------------------------------------------

start() {
  local f ports port
  settings
  mkdir -p var "$DIR/nginx-tmp"
  chmod 700 var "$DIR"
  if [ -n "$(supervisors)" ] || live_pid "$DIR/nginx.pid" nginx >/dev/null; then
    echo "A cluster is already running (var/cluster/*.pid): make cluster-stop first" >&2
    exit 1
  fi
  [ -f "$MODEL" ] || { echo "No trained model at $MODEL: make train" >&2; exit 1; }
  [ -x "$NGINX" ] || { echo "nginx is not installed ($NGINX): make nginx" >&2; exit 1; }
  rm -f "$DIR"/*.pid
  # The previous run's logs are kept once, as *.log.1.
  for f in "$DIR"/*.log; do [ -e "$f" ] && mv -f "$f" "$f.1"; done

  .venv/bin/python -m nps.check
  .venv/bin/python scripts/cluster_db.py "$DB_URL"
  if ! .venv/bin/python -c 'import redis, sys; redis.Redis.from_url(sys.argv[1]).ping()' \
    "$LOCKS_URL" 2>/dev/null; then
    echo "Redis does not answer at $LOCKS_URL (make services starts a local one)" >&2
    exit 1
  fi
  ensure_token

  # One private port per process, plus nginx's address for the action
  # servers; the OS picks free ones, and they stay fixed while the cluster
  # runs (nginx's configuration names them; a restarted process reuses its own).
  ports=($(.venv/bin/python - "$((RASA_COUNT + ACTIONS_COUNT + 1))" <<'PY'
import socket, sys
sockets = [socket.socket() for _ in range(int(sys.argv[1]))]
for sock in sockets:
    sock.bind(("127.0.0.1", 0))
print(" ".join(str(sock.getsockname()[1]) for sock in sockets))
PY
  ))
  RASA_PORTS="${ports[*]:0:RASA_COUNT}"
  ACTIONS_PORTS="${ports[*]:RASA_COUNT:ACTIONS_COUNT}"
  ACTIONS_LB_PORT="${ports[-1]}"
  cat >"$(state_file)" <<STATE
NPS_HOST=$NPS_HOST
PUBLIC_PORT=$PUBLIC_PORT
RASA_PORTS="$RASA_PORTS"
ACTIONS_PORTS="$ACTIONS_PORTS"
ACTIONS_LB_PORT=$ACTIONS_LB_PORT
STATE

  local render_args=(--prefix "$DIR" --listen "$NPS_HOST:$PUBLIC_PORT"
    --actions-listen "$NPS_HOST:$ACTIONS_LB_PORT")
  for port in $RASA_PORTS; do render_args+=(--rasa "$NPS_HOST:$port"); done
  for port in $ACTIONS_PORTS; do render_args+=(--actions "$NPS_HOST:$port"); done
  # The REST channel has no authentication: exposed only when the
  # credentials in use have it (credentials.yml, not the production file).
  grep -q '^channels\.rest\.RestInput:' "$CREDENTIALS" && render_args+=(--rest)
  # Started as root, nginx's workers would otherwise run as nobody.
  [ "$(id -u)" = 0 ] && render_args+=(--user "$(id -un)" --group "$(id -gn)")
  .venv/bin/python -m deploy.render_nginx "${render_args[@]}" >"$DIR/nginx.conf"
  local nginx_args=(-p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/nginx-error.log")
  "$NGINX" -q -t "${nginx_args[@]}"

  # What every process shares (docs/scaling.md): the tracker store, the
  # conversation locks, the webhook de-duplication, the action servers
  # through nginx. Everything else comes from the caller's environment.
  export NPS_DB_URL="$DB_URL" NPS_LOCK_STORE_URL="$LOCKS_URL" NPS_DEDUP_REDIS_URL="$DEDUP_URL"
  export NPS_ACTIONS_URL="http://$NPS_HOST:$ACTIONS_LB_PORT/webhook"
  export RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2

  # nginx first: a port already taken stops the start before any process runs.
  "$NGINX" "${nginx_args[@]}"
  # From here on, a failing step leaves nothing running behind it.
  trap 'echo "cluster: start failed; stopping what was started" >&2; stop >&2' ERR
  local i=1
  for port in $ACTIONS_PORTS; do
    launch "actions-$i" .venv/bin/python -m actions --host "$NPS_HOST" --port "$port"
    i=$((i + 1))
  done
  i=1
  for port in $RASA_PORTS; do
    launch "rasa-$i" .venv/bin/python scripts/rasa_serve.py --model "$MODEL" \
      --interface "$NPS_HOST" --port "$port" --enable-api \
      --credentials "$CREDENTIALS" --endpoints endpoints.yml
    i=$((i + 1))
  done

  log "waiting for $RASA_COUNT Rasa processes and $ACTIONS_COUNT action servers (at most ${START_TIMEOUT}s)"
  if ! wait_healthy "$START_TIMEOUT"; then
    echo "The cluster did not become healthy in ${START_TIMEOUT}s; the ends of its logs:" >&2
    for f in "$DIR"/rasa-*.log "$DIR"/actions-*.log "$DIR/nginx-error.log"; do
      [ -f "$f" ] && { echo "== $f" >&2; tail -n 15 "$f" >&2; }
    done
    stop >&2
    exit 1
  fi
  trap - ERR
  addresses
}

# launch NAME COMMAND...: the supervisor of one process, detached from this
# shell (its own session: Ctrl-C in the terminal or make ending leave it be).
launch() {
  local name=$1
  shift
  : >>"$DIR/$name.log"
  # The supervisor writes its own pid file (setsid may fork).
  setsid bash scripts/cluster.sh supervise "$name" "$@" </dev/null >/dev/null 2>&1 &
}

wait_healthy() {  # SECONDS
  local deadline=$((SECONDS + $1)) url pending
  while :; do
    pending=0
    for url in $(health_urls); do healthy "$url" || pending=$((pending + 1)); done
    # nginx itself: its own 404 for anything outside the exposed paths.
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
      "http://$NPS_HOST:$PUBLIC_PORT/")" = 404 ] || pending=$((pending + 1))
    [ "$pending" = 0 ] && return 0
    ((SECONDS < deadline)) || return 1
    # A process that keeps dying while starting (a bad setting, a missing
    # service) will not become healthy: say so now, not at the deadline.
    if [ "$(cat "$DIR"/*.log | grep -c 'restarting in')" -ge "$((2 * (RASA_COUNT + ACTIONS_COUNT)))" ]; then
      echo "processes keep ending while starting" >&2
      return 1
    fi
    sleep 1
  done
}

addresses() {
  local rest=""
  grep -q '^channels\.rest\.RestInput:' "${CREDENTIALS:-credentials.yml}" && rest=1
  cat <<MSG

The cluster is running: $RASA_COUNT Rasa processes and $ACTIONS_COUNT action servers behind nginx
(make cluster-stop stops it; logs and pid files in $DIR/).

  Public address (nginx):  http://$NPS_HOST:$PUBLIC_PORT
    webhooks:  /webhooks/{facebook,whatsapp,twilio}/webhook${rest:+, /webhooks/rest/webhook}
    web chat:  /socket.io/ (sticky by client address)
MSG
  if [ -n "$rest" ]; then
    cat <<MSG
  Talk to it:
    curl -s -XPOST http://$NPS_HOST:$PUBLIC_PORT/webhooks/rest/webhook \\
      -H 'Content-Type: application/json' -d '{"sender": "ania", "message": "cześć"}'
MSG
  fi
  cat <<MSG
  Rasa processes (private, HTTP API with the token of var/rasa_token):
$(i=1; for p in $RASA_PORTS; do echo "    rasa-$i     http://$NPS_HOST:$p   pid file $DIR/rasa-$i.pid"; i=$((i + 1)); done)
  Action servers (private; Rasa calls them through nginx at http://$NPS_HOST:$ACTIONS_LB_PORT/webhook):
$(i=1; for p in $ACTIONS_PORTS; do echo "    actions-$i  http://$NPS_HOST:$p   pid file $DIR/actions-$i.pid"; i=$((i + 1)); done)
  Tracker store:  $NPS_DB_URL
  Locks, dedup:   $NPS_LOCK_STORE_URL, $NPS_DEDUP_REDIS_URL

MSG
}

# --- stop ----------------------------------------------------------------------

stop() {
  local f pid name waited=0 alive
  # Supervisors first, so nothing is restarted while it stops; each passes
  # TERM on to its process and waits for it.
  for f in $(supervisors); do
    pid="$(live_pid "$f" cluster.sh)" && kill -TERM "$pid" 2>/dev/null || true
  done
  while :; do
    alive=""
    for f in $(supervisors); do
      if live_pid "$f" cluster.sh >/dev/null; then alive=1; else rm -f "$f"; fi
    done
    [ -z "$alive" ] && break
    if ((waited >= 30)); then
      # Still there after 30 s: a process that ignores TERM.
      for f in $(supervisors); do
        name="$(basename "$f" .supervisor.pid)"
        pid="$(live_pid "$DIR/$name.pid" "${name%-*}")" && kill -KILL "$pid" 2>/dev/null
        pid="$(live_pid "$f" cluster.sh)" && kill -KILL "$pid" 2>/dev/null
        rm -f "$f"
      done
      break
    fi
    sleep 1
    waited=$((waited + 1))
  done
  if pid="$(live_pid "$DIR/nginx.pid" nginx)"; then
    kill -QUIT "$pid"  # graceful: open requests are finished first
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$DIR"/*.pid
  log "stopped"
}

# --- status --------------------------------------------------------------------

status() {
  local f name pid ok=0 url
  if [ ! -f "$(state_file)" ]; then
    echo "no cluster started (var/cluster/cluster.env missing)"
    return 3
  fi
  # shellcheck disable=SC1090
  source "$(state_file)"
  for f in "$DIR"/rasa-*.pid "$DIR"/actions-*.pid; do
    [ -e "$f" ] || continue
    case "$f" in *.supervisor.pid) continue ;; esac
    name="$(basename "$f" .pid)"
    if pid="$(live_pid "$f" "${name%-*}")"; then
      echo "$name  pid $pid"
    else
      echo "$name  not running"
      ok=3
    fi
  done
  if pid="$(live_pid "$DIR/nginx.pid" nginx)"; then echo "nginx  pid $pid"; else echo "nginx  not running"; ok=3; fi
  for url in $(health_urls); do
    if healthy "$url"; then echo "healthy    $url"; else echo "unhealthy  $url"; ok=3; fi
  done
  return "$ok"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  supervise)
    shift
    supervise "$@"
    ;;
  *)
    echo "usage: scripts/cluster.sh start|stop|status" >&2
    exit 2
    ;;
esac
