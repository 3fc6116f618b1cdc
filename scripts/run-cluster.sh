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
#   CLUSTER_START_TIMEOUT  seconds to wait for the Rasa servers (900)
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/load-env.sh
venv=${VENV:-.venv}
cluster_port=${CLUSTER_PORT:-5000}
# Calendar links in answers point at the proxy, not at one instance.
export OFR_PUBLIC_URL=${OFR_PUBLIC_URL:-http://localhost:$cluster_port}
IFS=, read -ra rasa_ports <<<"${CLUSTER_RASA_PORTS:-5005,5006}"
action_port=${ACTION_PORT:-5055}
var_dir=${OFR_VAR_DIR:-var/cluster}
model=${OFR_MODEL:-models/ofr.tar.gz}
endpoints=${OFR_ENDPOINTS:-endpoints.cluster.yml}
start_timeout=${CLUSTER_START_TIMEOUT:-900}
nginx=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

export OFR_DB_HOST=${OFR_DB_HOST:-127.0.0.1} OFR_DB_PORT=${OFR_DB_PORT:-5432}
export OFR_DB_NAME=${OFR_DB_NAME:-ofr_cluster} OFR_DB_USER=${OFR_DB_USER:-postgres}
export OFR_DB_PASSWORD=${OFR_DB_PASSWORD:-}
export OFR_REDIS_HOST=${OFR_REDIS_HOST:-127.0.0.1} OFR_REDIS_PORT=${OFR_REDIS_PORT:-6379}
export OFR_REDIS_DB=${OFR_REDIS_DB:-1} OFR_REDIS_PASSWORD=${OFR_REDIS_PASSWORD:-}
export OFR_REDIS_PREFIX=${OFR_REDIS_PREFIX:-ofr}

fail() {
  echo "$1" >&2
  exit 1
}

port_free() {
  "$venv/bin/python" - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

answers() {  # url: true when it answers 2xx within 2 s
  "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1" 2>/dev/null
}

(( ${#rasa_ports[@]} >= 1 )) || fail "CLUSTER_RASA_PORTS names no port: give one port per Rasa instance, e.g. CLUSTER_RASA_PORTS=5005,5006."
[[ -x $nginx ]] || fail "nginx is missing: install it with 'sudo apt-get install nginx-light' (make install does it as root), then run make run-cluster again."
[[ -f $model ]] || fail "No trained model at $model: run 'make train' first."
[[ -f deploy/nginx.conf.template ]] || fail "deploy/nginx.conf.template is missing: restore it from git."
[[ -f $endpoints ]] || fail "No endpoints file at $endpoints: restore endpoints.cluster.yml from git or fix OFR_ENDPOINTS."
ports=("$cluster_port" "${rasa_ports[@]}")
[[ -n ${ACTION_SERVER_URL:-} ]] || ports+=("$action_port")
for port in "${ports[@]}"; do
  port_free "$port" || fail "Port $port is already in use (is the cluster or make run already running?): stop that process or choose other ports with CLUSTER_PORT=... CLUSTER_RASA_PORTS=...,... ACTION_PORT=... make run-cluster."
done

# PostgreSQL and Redis must answer before any Rasa server starts: Rasa itself would
# retry a missing database forever without saying why. The database and its table
# are created here once, so the instances do not race to create them.
SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=3 "$venv/bin/python" - "$endpoints" <<'PY' || exit 1
import importlib
import os
import re
import sys

import redis
import sqlalchemy as sa
import yaml
from sqlalchemy.engine.url import URL

env = os.environ
host, port, database = env["OFR_DB_HOST"], env["OFR_DB_PORT"], env["OFR_DB_NAME"]
user, password = env["OFR_DB_USER"], env["OFR_DB_PASSWORD"]


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def reason(error):
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return text[0].rstrip(".") if text else type(error).__name__


if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", database):
    fail(f"OFR_DB_NAME={database!r} is not a plain database name: use letters, digits and _.")
if not env["OFR_REDIS_PREFIX"].isalnum():
    fail(f"OFR_REDIS_PREFIX={env['OFR_REDIS_PREFIX']!r} must be letters and digits only (Rasa ignores any other prefix).")

# Every instance must use the same shared lock store, and it must load.
endpoints = sys.argv[1]
with open(endpoints, encoding="utf-8") as file:
    lock_type = ((yaml.safe_load(file) or {}).get("lock_store") or {}).get("type")
if lock_type in (None, "in_memory"):
    fail(f"{endpoints} has no shared lock_store: the instances need a Redis lock store (see endpoints.cluster.yml).")
if "." in lock_type:
    module, _, attribute = lock_type.rpartition(".")
    try:
        getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as error:
        fail(f"The lock store {lock_type} in {endpoints} cannot be loaded ({error}): check its type (docs/deployment.md, \"The lock store\").")

try:
    redis.Redis(
        host=env["OFR_REDIS_HOST"], port=int(env["OFR_REDIS_PORT"]),
        db=int(env["OFR_REDIS_DB"]), password=env["OFR_REDIS_PASSWORD"] or None,
        socket_timeout=5, socket_connect_timeout=5,
    ).ping()
except (redis.RedisError, ValueError) as error:
    fail(
        f"Redis at {env['OFR_REDIS_HOST']}:{env['OFR_REDIS_PORT']} (db "
        f"{env['OFR_REDIS_DB']}) cannot be used: {reason(error)}. Start Redis, or set "
        "OFR_REDIS_HOST, OFR_REDIS_PORT, OFR_REDIS_DB and OFR_REDIS_PASSWORD."
    )


def engine(name, **kwargs):
    url = URL.create(
        "postgresql", username=user or None, password=password or None,
        host=host, port=int(port), database=name,
    )
    return sa.create_engine(url, connect_args={"connect_timeout": 5}, **kwargs)


try:
    try:
        with engine(database).connect():
            pass
    except sa.exc.OperationalError as error:
        if "does not exist" not in str(error):
            raise
        with engine("postgres", isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
        print(f"Created the PostgreSQL database {database}.")
    from rasa.core.tracker_store import SQLTrackerStore

    SQLTrackerStore.Base.metadata.create_all(engine(database))
except sa.exc.SQLAlchemyError as error:
    fail(
        f"PostgreSQL at {host}:{port} (database {database}, user {user}) cannot be used: "
        f"{reason(error)}. Start PostgreSQL, or set OFR_DB_HOST, OFR_DB_PORT, "
        "OFR_DB_NAME, OFR_DB_USER and OFR_DB_PASSWORD."
    )
PY

mkdir -p "$var_dir"
var_abs=$(cd "$var_dir" && pwd)
nginx_dir=$var_abs/nginx
mkdir -p "$nginx_dir/temp"

# One admin token for all instances, so `make publish` can reach each of them.
if [[ -z ${OFR_ADMIN_TOKEN:-} ]]; then
  token_file="$var_dir/admin-token"
  if [[ ! -s $token_file ]]; then
    (umask 077; "$venv/bin/python" -c "import secrets; print(secrets.token_urlsafe(32))" >"$token_file")
  fi
  OFR_ADMIN_TOKEN=$(<"$token_file")
fi
export OFR_ADMIN_TOKEN

# The proxy is public: REST (for integrations) needs a token here.
if [[ -z ${OFR_REST_TOKEN:-} ]]; then
  rest_token_file="$var_dir/rest-token"
  if [[ ! -s $rest_token_file ]]; then
    (umask 077; "$venv/bin/python" -c "import secrets; print(secrets.token_urlsafe(32))" >"$rest_token_file")
  fi
  OFR_REST_TOKEN=$(<"$rest_token_file")
fi
export OFR_REST_TOKEN

# The proxy's configuration: the template with this cluster's ports and folder.
"$venv/bin/python" - deploy/nginx.conf.template "$nginx_dir/nginx.conf" "$nginx_dir" \
  "127.0.0.1:$cluster_port" "${rasa_ports[@]}" <<'PY' || exit 1
import os
import sys

template, target, var_dir, listen, *ports = sys.argv[1:]
servers = "\n".join(f"        server 127.0.0.1:{port};" for port in ports)
text = open(template, encoding="utf-8").read()
limits = {"@RATE@": os.environ.get("OFR_NGINX_RATE") or "10", "@BURST@": os.environ.get("OFR_NGINX_BURST") or "50"}
for name, value in limits.items():
    if not value.isdigit() or int(value) < 1:
        sys.exit(f"{'OFR_NGINX_RATE' if name == '@RATE@' else 'OFR_NGINX_BURST'}={value!r} must be a whole number, at least 1.")
for key, value in {"@VAR_DIR@": var_dir, "@LISTEN@": listen, "@UPSTREAM_SERVERS@": servers, **limits}.items():
    text = text.replace(key, value)
open(target, "w", encoding="utf-8").write(text)
PY
nginx_args=(-p "$nginx_dir/" -c "$nginx_dir/nginx.conf" -e "$nginx_dir/error.log")
if ! "$nginx" "${nginx_args[@]}" -t -q 2>"$nginx_dir/config-test.log"; then
  fail "nginx does not accept $nginx_dir/nginx.conf: see $nginx_dir/config-test.log."
fi

stop() {
  trap - INT TERM EXIT
  local pids=("$nginx_pid" ${action_pid:-} "${instance_pids[@]}")
  for pid in "${pids[@]}"; do [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do [[ -n $pid ]] && wait "$pid" 2>/dev/null; done
}
nginx_pid=
action_pid=
instance_pids=()
trap 'echo; echo "Stopping the OFR cluster."; stop; exit 0' INT TERM
trap stop EXIT

# nginx first: it holds the proxy port from now on (a busy port shows at once) and
# answers 502 until the instances are up.
"$nginx" "${nginx_args[@]}" -g 'daemon off;' &
nginx_pid=$!
sleep 1
kill -0 "$nginx_pid" 2>/dev/null || fail "nginx did not start: see $nginx_dir/error.log."

start_actions() {
  SANIC_HOST=${OFR_ACTION_ADDR:-127.0.0.1} SANIC_REQUEST_MAX_SIZE=${OFR_ACTION_MAX_BODY:-2097152} \
    "$venv/bin/rasa" run actions --actions actions --port "$action_port" >>"$var_dir/actions.log" 2>&1 &
  action_pid=$!
}

if [[ -z ${ACTION_SERVER_URL:-} ]]; then
  start_actions
  action_url=http://127.0.0.1:$action_port/webhook
  for _ in $(seq 120); do
    answers "http://127.0.0.1:$action_port/health" && break
    kill -0 "$action_pid" 2>/dev/null || fail "The action server did not start: see $var_dir/actions.log."
    sleep 1
  done
  answers "http://127.0.0.1:$action_port/health" || fail "The action server did not answer within 2 minutes: see $var_dir/actions.log."
else
  action_url=$ACTION_SERVER_URL
fi

# The instances start side by side; each is scripts/run.sh with this cluster's
# endpoints, its own port and var folder, and the shared action server.
letters=({a..z})
names=()
start_instance() {  # index
  local i=$1
  RASA_PORT=${rasa_ports[$i]} OFR_VAR_DIR=$var_dir/${names[$i]} OFR_ENDPOINTS=$endpoints \
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

for _ in $(seq 30); do
  answers "http://127.0.0.1:$cluster_port/" && break
  kill -0 "$nginx_pid" 2>/dev/null || fail "nginx stopped: see $nginx_dir/error.log."
  sleep 1
done
answers "http://127.0.0.1:$cluster_port/" || fail "nginx does not answer on port $cluster_port: see $nginx_dir/error.log."

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
