# Sourced by scripts/run.sh and scripts/run-cluster.sh (from the project folder):
# settings from .env, then the steps both scripts take. The Python they need is in
# ofr_tools/launch.py.
source "$(dirname "${BASH_SOURCE[0]}")/load-env.sh"
venv=${VENV:-.venv}

fail() {  # message: say it on stderr and stop the script
  echo "$1" >&2
  exit 1
}

port_free() {  # port: 0 when nothing holds it on 127.0.0.1, 1 when taken, 2 when no port
  "$venv/bin/python" -m ofr_tools.launch port-free "$1" 2>/dev/null
}

require_free_ports() {  # "what may run already" "how to choose other ports" port...
  local running=$1 choose=$2 port
  shift 2
  for port; do
    port_free "$port"
    case $? in
      0) ;;
      1) fail "Port $port is already in use (is $running already running?): stop that process or choose other ports with $choose." ;;
      *) fail "Port '$port' is not a port number: choose ports from 1 to 65535 with $choose." ;;
    esac
  done
}

require_model() {  # model file
  [[ -f $1 ]] || fail "No trained model at $1: run 'make train' first."
}

choose_model() {  # sets model and model_note: OFR_MODEL, else the model published
  # last (models/published.json), else models/ofr.tar.gz (ofr_tools/published_model.py)
  local choice
  choice=$("$venv/bin/python" -m ofr_tools.published_model start --model "${OFR_MODEL:-}") ||
    fail "Could not choose the model to start: see the lines above."
  model=${choice%%$'\n'*}
  model_note="Model:     $model (${choice#*$'\n'})"
}

require_settings() {  # every OFR_*/TELEGRAM_* value usable (ofr/settings.py), else one sentence each
  "$venv/bin/python" -m ofr_tools.check_settings || exit 1
}

answers() {  # url: true when it answers 2xx within 2 s
  "$venv/bin/python" -m ofr_tools.launch answers "$1" 2>/dev/null
}

wait_for() {  # url seconds pid: 0 once url answers, 1 when pid ends, 2 after seconds
  local url=$1 seconds=$2 pid=$3
  for _ in $(seq "$seconds"); do
    answers "$url" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 1
  done
  answers "$url" && return 0
  return 2
}

load_token() {  # variable file: the variable from the environment, or else a token
  # generated once and kept in file (mode 0600, tightened if wider); exported.
  local name=$1 file=$2 token
  if [[ -z ${!name:-} ]]; then
    token=$("$venv/bin/python" -m ofr_tools.launch token-file "$file") || exit 1
    printf -v "$name" '%s' "$token"
  fi
  export "$name"
}

start_action_server() {  # port log: in the background, appending to log; sets action_pid
  # Only the Rasa servers call the action server: it listens on 127.0.0.1 and takes
  # requests of up to 2 MiB (a whole conversation), not Sanic's 100 MB.
  # It gets none of the secrets (ofr/process_environment.py). rasa-sdk's own entry
  # point, not `rasa run actions` (which only calls it): Rasa's command line would
  # import all of Rasa into the process, 80 MB for nothing (docs/performance.md).
  SANIC_HOST=${OFR_ACTION_ADDR:-127.0.0.1} SANIC_REQUEST_MAX_SIZE=${OFR_ACTION_MAX_BODY:-2097152} \
    run_as actions "$venv/bin/python" -m rasa_sdk --actions actions --port "$1" >>"$2" 2>&1 &
  action_pid=$!
}

run_as() {  # process command...: command in place of this shell, with only the
  # secrets that process needs (ofr/process_environment.py); same process id.
  exec "$venv/bin/python" -m ofr_tools.launch exec-as "$@"
}

stop_processes() {  # pid...: SIGTERM to each, then wait for them all
  trap - INT TERM EXIT
  local pid
  for pid; do [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null; done
  for pid; do [[ -n $pid ]] && wait "$pid" 2>/dev/null; done
}

stop_on_exit() {  # message: Ctrl-C or SIGTERM says it, then the script's stop() runs
  # and it ends with 0; any other exit runs stop() too.
  trap "echo; echo $(printf %q "$1"); stop; exit 0" INT TERM
  trap stop EXIT
}
