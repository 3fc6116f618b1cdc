#!/usr/bin/env bash
# Start the action server and the Rasa server; Ctrl-C stops both.
#   scripts/run.sh           REST + socket.io on RASA_PORT (5005)
#   scripts/run.sh --shell   chat in the terminal instead
#   scripts/run.sh --print-model   which model a start loads, and why; starts nothing
set -uo pipefail
source "$(dirname "$0")/lib.sh"
rasa_port=${RASA_PORT:-5005}
action_port=${ACTION_PORT:-5055}
var_dir=${OFR_VAR_DIR:-var}
mode=${1:-serve}
# The model published last, until the next publication or make train
# (ofr_tools/published_model.py); OFR_MODEL overrides it.
choose_model
if [[ $mode == --print-model ]]; then
  echo "$model_note"
  exit 0
fi

# The staff console (console/): this machine only unless OFR_STAFF_ADDR says otherwise;
# OFR_STAFF_ADDR=off starts none (make run-cluster's instances).
staff_addr=${OFR_STAFF_ADDR:-127.0.0.1:5080}
staff_port=${staff_addr##*:}
staff_host=${staff_addr%:*}
[[ $mode == --shell ]] && staff_addr=off

ports=()
[[ -n ${ACTION_SERVER_URL:-} ]] || ports+=("$action_port")
[[ $mode == --shell ]] || ports+=("$rasa_port")
[[ $staff_addr == off ]] || ports+=("$staff_port")
require_free_ports "the bot" "RASA_PORT=... ACTION_PORT=... OFR_STAFF_ADDR=host:port make run" "${ports[@]}"
require_model "$model"
[[ $mode == --shell ]] && echo "$model_note"

mkdir -p "$var_dir"
# Telegram only when configured; without a token the other channels start alone.
credentials="$var_dir/credentials.yml"
if [[ -n ${TELEGRAM_TOKEN:-} ]]; then
  if [[ -z ${TELEGRAM_WEBHOOK_SECRET:-} ]]; then
    fail "TELEGRAM_TOKEN is set but TELEGRAM_WEBHOOK_SECRET is not: set it to a random string (letters, digits, _ and -), then run make run again."
  fi
  cp credentials.yml "$credentials"
  telegram_note="Telegram: on (webhook /webhooks/telegram/webhook)"
else
  grep -v -E "^bot\.channels\.telegram\.[a-z_.]*\.TelegramInput:" credentials.yml > "$credentials"
  telegram_note="Telegram: off (set TELEGRAM_TOKEN and TELEGRAM_WEBHOOK_SECRET to enable it)"
fi
endpoints="$var_dir/endpoints.yml"
# ACTION_SERVER_URL: use an action server that runs elsewhere instead of starting one.
action_url=${ACTION_SERVER_URL:-http://127.0.0.1:$action_port/webhook}
sed -e "s#http://localhost:5055/webhook#$action_url#" -e "s#db: var/tracker.db#db: $var_dir/tracker.db#" \
  "${OFR_ENDPOINTS:-endpoints.yml}" > "$endpoints"

# The token for `make publish` (bot/channels/routes/model.py): from the environment, or one
# generated once and kept in the var folder, readable only by this user.
load_token OFR_ADMIN_TOKEN "$var_dir/admin-token"

# Rasa's own HTTP API (/model, /conversations, ...) is off unless asked for, and then
# only with a token.
api_args=()
if [[ ${RASA_ENABLE_API:-} == 1 || ${RASA_ENABLE_API:-} == true ]]; then
  if [[ -z ${RASA_AUTH_TOKEN:-} ]]; then
    fail "RASA_ENABLE_API is set but RASA_AUTH_TOKEN is not: set it to a long random string, then run make run again."
  fi
  # The token reaches Rasa through the environment (ofr_tools/rasa_serve.py), never
  # on a command line that every user of the machine can read with ps.
  api_args=(--enable-api)
  export RASA_AUTH_TOKEN
else
  unset RASA_AUTH_TOKEN
fi

# Browsers may call the servers from these origins only (space or comma separated).
# The demo page and the widget it serves share the server's own origin.
cors=${OFR_CORS_ORIGINS:-http://localhost:$rasa_port http://127.0.0.1:$rasa_port}
read -ra cors_origins <<<"${cors//,/ }"

# The Rasa server listens on this machine only unless OFR_RASA_ADDR says otherwise;
# on any other address REST needs OFR_REST_TOKEN (require_settings and
# ofr_tools/rasa_serve.py refuse to start without it).
rasa_addr=${OFR_RASA_ADDR:-127.0.0.1}
case $rasa_addr in
  0.0.0.0 | 127.* | localhost) probe_host=127.0.0.1 ;;
  :: | ::1) probe_host='[::1]' ;;
  *:*) probe_host="[$rasa_addr]" ;;
  *) probe_host=$rasa_addr ;;
esac
if [[ -n ${OFR_REST_TOKEN:-} ]]; then
  rest_note="REST:      needs 'Authorization: Bearer \$OFR_REST_TOKEN'"
else
  rest_note="REST:      open to this machine only (listening on $rasa_addr); set OFR_REST_TOKEN before OFR_RASA_ADDR opens it to others"
fi

# glibc gives each thread that allocates its own malloc arena; TensorFlow's threads
# then keep about 60 MB more resident than two arenas do (docs/performance.md).
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}

pids=()
stop() { stop_processes "${pids[@]}"; }
require_settings  # every OFR_* value usable, before any server starts
stop_on_exit "Stopping the OFR assistant."

action_pid=
if [[ -z ${ACTION_SERVER_URL:-} ]]; then
  : >"$var_dir/actions.log"  # a new log each start
  start_action_server "$action_port" "$var_dir/actions.log"
  pids+=("$action_pid")
fi
action_server_up() {
  [[ -z $action_pid ]] && return 0
  wait_for "http://127.0.0.1:$action_port/health" 60 "$action_pid" && return 0
  echo "The action server did not start: see $var_dir/actions.log." >&2
  return 1
}

if [[ $mode == --shell ]]; then
  action_server_up || exit 1
  "$venv/bin/rasa" shell --model "$model" --endpoints "$endpoints"
  exit 0
fi

echo "$model_note" >"$var_dir/rasa.log"  # the log says which model, and why
# Sanic reads whole request bodies (default limit 100 MB) before any channel sees them;
# only the Rasa server gets the limit (the action server receives whole conversations).
SANIC_REQUEST_MAX_SIZE=${SANIC_REQUEST_MAX_SIZE:-1048576} \
  "$venv/bin/python" -m ofr_tools.rasa_serve run --model "$model" --endpoints "$endpoints" \
  --credentials "$credentials" --interface "$rasa_addr" --port "$rasa_port" \
  --cors "${cors_origins[@]}" "${api_args[@]}" >>"$var_dir/rasa.log" 2>&1 &
pids+=($!)
# Both servers start at the same time (the Rasa server only calls actions once
# messages arrive): start-up is the slower of the two, not their sum.
rasa_pid=${pids[-1]}
if [[ $staff_addr != off ]]; then
  # The console gets the admin token (publish), not the channels' secrets.
  run_as console "$venv/bin/python" -m console.serve >"$var_dir/console.log" 2>&1 &
  pids+=($!)
  staff_note="Staff:     http://$staff_host:$staff_port/ (accounts: make staff-user NAME=... ROLE=editor)"
else
  staff_note="Staff:     console off (OFR_STAFF_ADDR=off)"
fi
action_server_up || exit 1
wait_for "http://$probe_host:$rasa_port/" 180 "$rasa_pid" || fail "The Rasa server did not start: see $var_dir/rasa.log."
if [[ $staff_addr != off ]]; then
  wait_for "http://$staff_host:$staff_port/login" 60 "${pids[-1]}" || fail "The staff console did not start: see $var_dir/console.log."
fi
cat <<MSG
The OFR assistant is running (logs in $var_dir/). Talk to it:
  $model_note
  REST:      curl -s localhost:$rasa_port/webhooks/rest/webhook -d '{"sender": "me", "message": "Was ist OFR?"}'
  $rest_note
  Web chat:  http://localhost:$rasa_port/webhooks/webchat/ (demo page with the chat widget)
  Terminal:  make shell
  $staff_note
  $telegram_note
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
echo "A server stopped unexpectedly: see $var_dir/rasa.log, $var_dir/actions.log and $var_dir/console.log." >&2
exit 1
