#!/usr/bin/env bash
# Start the OFR assistant as a cluster on this machine: one action server, several
# Rasa servers (each through scripts/run.sh) sharing a PostgreSQL tracker store and a
# Redis lock store (endpoints.cluster.yml), and nginx in front of them
# (deploy/nginx.conf.template). Ctrl-C or SIGTERM stops everything.
# docs/deployment.md maps this onto several machines.
#
#   CLUSTER_PORT        the proxy's port (5000)
#   CLUSTER_RASA_PORTS  one port per Rasa instance, comma-separated (5005,5006)
#   ACTION_PORT         the action server (5055); ACTION_SERVER_URL: use one elsewhere
#   OFR_VAR_DIR         logs, generated files, one folder per instance (var/cluster)
#   OFR_ENDPOINTS       the instances' endpoints file (endpoints.cluster.yml)
#   OFR_DB_HOST OFR_DB_PORT OFR_DB_NAME OFR_DB_USER OFR_DB_PASSWORD
#                       PostgreSQL (127.0.0.1, 5432, ofr_cluster, postgres, empty)
#   OFR_REDIS_HOST OFR_REDIS_PORT OFR_REDIS_DB OFR_REDIS_PASSWORD OFR_REDIS_PREFIX
#                       Redis (127.0.0.1, 6379, 1, empty, ofr)
#   OFR_REDIS_URL       the Telegram channel's store of long button payloads, shared
#                       by the instances (the Redis above, same db; see ofr_tools/cluster.py)
#   OFR_TRUSTED_PROXY   the address nginx reaches the instances from (127.0.0.1)
#   CLUSTER_START_TIMEOUT  seconds to wait for the Rasa servers (900)
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
cluster_port=${CLUSTER_PORT:-5000}
# Calendar links in answers point at the proxy, not at one instance.
export OFR_PUBLIC_URL=${OFR_PUBLIC_URL:-http://localhost:$cluster_port}
IFS=, read -ra rasa_ports <<<"${CLUSTER_RASA_PORTS:-5005,5006}"
action_port=${ACTION_PORT:-5055}
var_dir=${OFR_VAR_DIR:-var/cluster}
endpoints=${OFR_ENDPOINTS:-endpoints.cluster.yml}
start_timeout=${CLUSTER_START_TIMEOUT:-900}
nginx=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

export OFR_DB_HOST=${OFR_DB_HOST:-127.0.0.1} OFR_DB_PORT=${OFR_DB_PORT:-5432}
export OFR_DB_NAME=${OFR_DB_NAME:-ofr_cluster} OFR_DB_USER=${OFR_DB_USER:-postgres}
export OFR_DB_PASSWORD=${OFR_DB_PASSWORD:-}
export OFR_REDIS_HOST=${OFR_REDIS_HOST:-127.0.0.1} OFR_REDIS_PORT=${OFR_REDIS_PORT:-6379}
export OFR_REDIS_DB=${OFR_REDIS_DB:-1} OFR_REDIS_PASSWORD=${OFR_REDIS_PASSWORD:-}
export OFR_REDIS_PREFIX=${OFR_REDIS_PREFIX:-ofr}

(( ${#rasa_ports[@]} >= 1 )) || fail "CLUSTER_RASA_PORTS names no port: give one port per Rasa instance, e.g. CLUSTER_RASA_PORTS=5005,5006."
[[ -x $nginx ]] || fail "nginx is missing: install it with 'sudo apt-get install nginx-light' (make install does it as root), then run make run-cluster again."
# Each instance chooses again when it (re)starts (scripts/run.sh): after a
# make publish, a restarted instance loads the published model too.
choose_model
require_model "$model"
[[ -f deploy/nginx.conf.template ]] || fail "deploy/nginx.conf.template is missing: restore it from git."
[[ -f $endpoints ]] || fail "No endpoints file at $endpoints: restore endpoints.cluster.yml from git or fix OFR_ENDPOINTS."
ports=("$cluster_port" "${rasa_ports[@]}")
[[ -n ${ACTION_SERVER_URL:-} ]] || ports+=("$action_port")
require_free_ports "the cluster or make run" "CLUSTER_PORT=... CLUSTER_RASA_PORTS=...,... ACTION_PORT=... make run-cluster" "${ports[@]}"

# PostgreSQL and Redis must answer before any Rasa server starts: Rasa itself would
# retry a missing database forever without saying why. The database and its table
# are created here once, so the instances do not race to create them.
SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=3 \
  "$venv/bin/python" -m ofr_tools.cluster prepare-stores "$endpoints" || exit 1
# Telegram's long button payloads go to the same Redis, so that a button one instance
# sent works when its press reaches the other (bot/channels/telegram/buttons.py).
OFR_REDIS_URL=${OFR_REDIS_URL:-$("$venv/bin/python" -m ofr_tools.cluster redis-url)} || exit 1
export OFR_REDIS_URL

mkdir -p "$var_dir"
var_abs=$(cd "$var_dir" && pwd)
nginx_dir=$var_abs/nginx
mkdir -p "$nginx_dir/temp"

# One admin token for all instances, so `make publish` can reach each of them.
load_token OFR_ADMIN_TOKEN "$var_dir/admin-token"

# The proxy is public: REST (for integrations) needs a token here.
load_token OFR_REST_TOKEN "$var_dir/rest-token"

# nginx connects to the instances from this machine and names the client in
# X-Real-IP; the instances trust that header from this address only
# (bot/services/rate_limits.py).
export OFR_TRUSTED_PROXY=${OFR_TRUSTED_PROXY:-127.0.0.1}

# The proxy's configuration: the template with this cluster's ports and folder.
"$venv/bin/python" -m ofr_tools.cluster render-nginx --template deploy/nginx.conf.template \
  --output "$nginx_dir/nginx.conf" --var-dir "$nginx_dir" --listen "127.0.0.1:$cluster_port" \
  "${rasa_ports[@]}" || exit 1
nginx_args=(-p "$nginx_dir/" -c "$nginx_dir/nginx.conf" -e "$nginx_dir/error.log")
if ! "$nginx" "${nginx_args[@]}" -t -q 2>"$nginx_dir/config-test.log"; then
  fail "nginx does not accept $nginx_dir/nginx.conf: see $nginx_dir/config-test.log."
fi

stop() { stop_processes "$nginx_pid" "$action_pid" "${instance_pids[@]}"; }
nginx_pid=
action_pid=
instance_pids=()
require_settings  # every OFR_* value usable, before any server starts
stop_on_exit "Stopping the OFR cluster."

# nginx first: it holds the proxy port from now on (a busy port shows at once) and
# answers 503 (send again) until the instances are up.
"$nginx" "${nginx_args[@]}" -g 'daemon off;' &
nginx_pid=$!
sleep 1
kill -0 "$nginx_pid" 2>/dev/null || fail "nginx did not start: see $nginx_dir/error.log."

start_actions() { start_action_server "$action_port" "$var_dir/actions.log"; }

if [[ -z ${ACTION_SERVER_URL:-} ]]; then
  start_actions
  action_url=http://127.0.0.1:$action_port/webhook
  wait_for "http://127.0.0.1:$action_port/health" 120 "$action_pid"
  case $? in
    1) fail "The action server did not start: see $var_dir/actions.log." ;;
    2) fail "The action server did not answer within 2 minutes: see $var_dir/actions.log." ;;
  esac
else
  action_url=$ACTION_SERVER_URL
fi

# The instances start side by side; each is scripts/run.sh with this cluster's
# endpoints, its own port and var folder, and the shared action server.
letters=({a..z})
names=()
start_instance() {  # index
  local i=$1
  # No staff console per instance: it edits one checkout (docs/deployment.md).
  RASA_PORT=${rasa_ports[$i]} OFR_VAR_DIR=$var_dir/${names[$i]} OFR_ENDPOINTS=$endpoints OFR_STAFF_ADDR=off \
    ACTION_SERVER_URL=$action_url scripts/run.sh >>"$var_dir/${names[$i]}/run.log" 2>&1 &
  instance_pids[$i]=$!
}
for i in "${!rasa_ports[@]}"; do
  names+=("${letters[$i]}")
  mkdir -p "$var_dir/${names[$i]}"
  start_instance "$i"
done

echo "Starting ${#rasa_ports[@]} Rasa servers (a few minutes; logs in $var_dir/)..."
deadline=$((SECONDS + start_timeout))
for i in "${!rasa_ports[@]}"; do
  until answers "http://127.0.0.1:${rasa_ports[$i]}/"; do
    if ! kill -0 "${instance_pids[$i]}" 2>/dev/null; then
      fail "Rasa instance ${names[$i]} (port ${rasa_ports[$i]}) did not start: see $var_dir/${names[$i]}/run.log and $var_dir/${names[$i]}/rasa.log."
    fi
    ((SECONDS < deadline)) || fail "Rasa instance ${names[$i]} (port ${rasa_ports[$i]}) did not answer within $start_timeout s: see $var_dir/${names[$i]}/rasa.log."
    sleep 2
  done
done

wait_for "http://127.0.0.1:$cluster_port/" 30 "$nginx_pid"
case $? in
  1) fail "nginx stopped: see $nginx_dir/error.log." ;;
  2) fail "nginx does not answer on port $cluster_port: see $nginx_dir/error.log." ;;
esac

instances=""
for i in "${!rasa_ports[@]}"; do
  instances+="${instances:+, }http://localhost:${rasa_ports[$i]} (${names[$i]})"
done
publish_urls=$(printf "http://localhost:%s," "${rasa_ports[@]}")
cat <<MSG
The OFR assistant runs as a cluster (logs in $var_dir/):
  Proxy:      http://localhost:$cluster_port (nginx: REST, socket.io, web chat, Telegram webhook)
  Instances:  $instances
  Actions:    ${action_url%/webhook}
  ${model_note/Model:     /Model:      }
  Stores:     PostgreSQL $OFR_DB_USER@$OFR_DB_HOST:$OFR_DB_PORT/$OFR_DB_NAME, Redis $OFR_REDIS_HOST:$OFR_REDIS_PORT db $OFR_REDIS_DB (prefix $OFR_REDIS_PREFIX)
  REST:       curl -s localhost:$cluster_port/webhooks/rest/webhook -H "Authorization: Bearer \$OFR_REST_TOKEN" -d '{"sender": "me", "message": "Was ist OFR?"}'
              (the token is in $var_dir/rest-token unless OFR_REST_TOKEN was set)
  Web chat:   http://localhost:$cluster_port/webhooks/webchat/
  New model:  OFR_VAR_DIR=$var_dir OFR_PUBLISH_URLS=${publish_urls%,} make publish
Press Ctrl-C to stop.
MSG

# Supervision: a Rasa instance or the action server that stops is started again;
# meanwhile nginx sends requests to the other instances (a refused connection is
# retried there) and the conversations go on from PostgreSQL. One that keeps
# dying (5 times within 10 minutes) stops the cluster. docs/deployment.md says how
# systemd or Kubernetes take this role in a real deployment.
declare -A deaths=()
restart_allowed() {  # name
  local recent=() stamp
  for stamp in ${deaths[$1]:-}; do ((SECONDS - stamp < 600)) && recent+=("$stamp"); done
  recent+=("$SECONDS")
  deaths[$1]="${recent[*]}"
  ((${#recent[@]} <= 5))
}
while true; do
  wait -n "$nginx_pid" ${action_pid:-} "${instance_pids[@]}"
  if ! kill -0 "$nginx_pid" 2>/dev/null; then
    echo "nginx stopped unexpectedly: see $nginx_dir/error.log. Stopping the cluster." >&2
    exit 1
  fi
  if [[ -n $action_pid ]] && ! kill -0 "$action_pid" 2>/dev/null; then
    restart_allowed actions || { echo "The action server keeps stopping: see $var_dir/actions.log. Stopping the cluster." >&2; exit 1; }
    echo "$(date '+%F %T') The action server stopped; starting it again." >&2
    start_actions
  fi
  for i in "${!rasa_ports[@]}"; do
    kill -0 "${instance_pids[$i]}" 2>/dev/null && continue
    restart_allowed "${names[$i]}" || { echo "Rasa instance ${names[$i]} keeps stopping: see $var_dir/${names[$i]}/rasa.log. Stopping the cluster." >&2; exit 1; }
    echo "$(date '+%F %T') Rasa instance ${names[$i]} (port ${rasa_ports[$i]}) stopped; starting it again. The other instances answer meanwhile." >&2
    start_instance "$i"
  done
done
