# Sourced by scripts/lib.sh (for run.sh and run-cluster.sh): settings from .env (see
# .env.example); variables already in the environment win.
if [[ -f .env ]]; then
  while IFS='=' read -r key value || [[ -n $key ]]; do
    [[ $key =~ ^[A-Z_][A-Z0-9_]*$ && -n $value && -z ${!key:-} ]] || continue
    value=${value%\"}; value=${value#\"}
    export "$key=$value"
  done < .env
fi
