#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter (Rasa 3.6 needs 3.10), or explain.
set -u
candidates=()
[[ -n "${PYTHON:-}" ]] && candidates+=("$PYTHON")
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root 2>/dev/null)
  for p in "$root"/versions/3.10*/bin/python3.10; do [[ -x $p ]] && candidates+=("$p"); done
fi
candidates+=(python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10 python3)
for c in "${candidates[@]}"; do
  path=$(command -v "$c" 2>/dev/null) || continue
  version=$("$path" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
  if [[ $version == "3.10" ]]; then
    echo "$path"
    exit 0
  fi
done
echo "No Python 3.10 found: install it (e.g. 'pyenv install 3.10' or 'apt-get install python3.10') or set PYTHON=/path/to/python3.10, then run make again." >&2
exit 1
