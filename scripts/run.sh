#!/usr/bin/env bash
# Start the action server, Rasa and the dashboard on loopback (NPS_HOST);
# Ctrl-C stops all.
#   scripts/run.sh           everything (make run)
#   scripts/run.sh --shell   action server + a terminal chat (make shell)
# Called by the Makefile, which has already built the environments and the model.
set -euo pipefail
cd "$(dirname "$0")/.."

# var/ holds conversations (tracker.db, analytics.db), logs with customers'
# words, keys and the API token: readable by the service user only. Every
# file this script and its children create is private (umask), and files
# left by an older run are made so too.
umask 077
mkdir -p var
chmod 700 var
chmod -R go-rwx var
# Every address, port and URL in force, defaults included, from the one place
# that states them (nps/settings.py); a bad value stops here with its name.
settings="$(.venv/bin/python -m nps.settings --shell)"
eval "$settings"
# Rasa reads these two from endpoints.yml; the dashboard reads the bot's URL.
export NPS_DB_URL NPS_ACTIONS_URL NPS_BOT_URL
# Empty: conversation locks in memory, right for this single Rasa process.
export NPS_LOCK_STORE_URL="${NPS_LOCK_STORE_URL:-}"
MODEL=models/nps-bot.tar.gz

# Rasa's HTTP API (read a conversation's tracker, ...) is on, so it needs a
# token. A local run makes one once and keeps it in var/ (not in git). The
# token never goes on a command line or in a URL: scripts/rasa_serve.py reads
# it from RASA_TOKEN or this file (no newline, so `curl --data-urlencode
# token@var/rasa_token` can send it).
if [ -z "${RASA_TOKEN:-}" ]; then
  if [ ! -s var/rasa_token ]; then
    .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24), end="")' > var/rasa_token
  elif [ "$(tail -c 1 var/rasa_token | od -An -tx1 | tr -d ' ')" = "0a" ]; then
    printf '%s' "$(cat var/rasa_token)" > var/rasa_token.new  # printf is a builtin: not in ps
    mv var/rasa_token.new var/rasa_token
  fi
fi

# Fail early, with one clear line, on a broken YAML file or an unreachable database.
.venv/bin/python -m nps.check
.venv/bin/python scripts/check_db.py "$NPS_DB_URL"
if [ "${1:-}" != "--shell" ]; then
  # Beyond loopback the dashboard needs someone who can log in.
  .venv-analytics/bin/python -m analytics.dashboard.auth check --address "$NPS_HOST"
fi

pids=()
cleanup() {
  trap - EXIT INT TERM
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

wait_for() {  # name url log pid
  for _ in $(seq 1 600); do  # 5 minutes: loading the model on a busy machine
    if curl -fs -o /dev/null "$2"; then return 0; fi
    if ! kill -0 "$4" 2>/dev/null; then
      echo "$1 stopped while starting; the end of $3:" >&2
      tail -n 30 "$3" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "$1 did not start in 5 minutes; see $3" >&2
  exit 1
}

.venv/bin/python -m actions --host "$NPS_HOST" --port "$NPS_ACTIONS_PORT" > var/actions.log 2>&1 &
pids+=($!)
wait_for "The action server" "http://${NPS_HOST}:${NPS_ACTIONS_PORT}/health" var/actions.log "${pids[-1]}"

if [ "${1:-}" = "--shell" ]; then
  # Its own port, so a shell works next to a running `make run`.
  .venv/bin/rasa shell --model "$MODEL" --endpoints endpoints.yml \
    --interface "$NPS_HOST" --port "$NPS_SHELL_PORT"
  exit 0
fi

.venv/bin/python scripts/rasa_serve.py --model "$MODEL" --interface "$NPS_HOST" \
  --port "$NPS_RASA_PORT" --enable-api \
  --credentials credentials.yml --endpoints endpoints.yml > var/rasa.log 2>&1 &
pids+=($!)
rasa_pid=${pids[-1]}

.venv-analytics/bin/python -m streamlit run analytics/dashboard/app.py \
  --server.address "$NPS_HOST" --server.port "$NPS_DASHBOARD_PORT" > var/dashboard.log 2>&1 &
pids+=($!)

.venv/bin/python -m channels.webchat --host "$NPS_HOST" --port "$NPS_WEBCHAT_PORT" > var/webchat.log 2>&1 &
pids+=($!)

# The closed loop's clock: opens cases, reopens low win-backs, sends alerts
# (cases/worker.py; rules in data/cases.yml, docs/closed-loop.md).
.venv-analytics/bin/python -m cases.worker --every 60 > var/cases.log 2>&1 &
pids+=($!)

# Rasa answers / (no token needed) once its model is loaded: it loads the
# model before it starts listening.
wait_for "Rasa" "http://${NPS_HOST}:${NPS_RASA_PORT}/" var/rasa.log "$rasa_pid"

cat <<MSG

The NPS bot is running (logs in var/, Ctrl-C stops everything).

  Talk to it over REST:
    curl -s -XPOST http://${NPS_HOST}:${NPS_RASA_PORT}/webhooks/rest/webhook \\
      -H 'Content-Type: application/json' -d '{"sender": "ania", "message": "cześć"}'
  Read that conversation's slots (curl reads the token from var/rasa_token itself):
    curl -s -G --data-urlencode token@var/rasa_token \\
      http://${NPS_HOST}:${NPS_RASA_PORT}/conversations/rest:ania/tracker
  Dashboard:        http://${NPS_HOST}:${NPS_DASHBOARD_PORT}  (its "Try the bot" page chats with the bot)
  Cases (detractors who agreed to be contacted): the dashboard's "Sprawy" page
  An employees' survey link:  .venv/bin/python -m nps.links employee --store store
  Web chat page:    http://${NPS_HOST}:${NPS_WEBCHAT_PORT}/index.html?server=http://${NPS_HOST}:${NPS_RASA_PORT}&touchpoint=store
  In the terminal:  make shell
  Tracker store:    ${NPS_DB_URL}

MSG

# Stop everything when any part stops.
wait -n "${pids[@]}"
echo "A process stopped; see var/*.log. Stopping the rest." >&2
exit 1
