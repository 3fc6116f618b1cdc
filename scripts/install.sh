#!/usr/bin/env bash
# Create the virtualenv with Python 3.10 and install the pinned requirements.
set -euo pipefail
venv=${VENV:-.venv}
requirements=${1:-requirements.txt}
if [[ ! -x $venv/bin/python ]]; then
  python=$(scripts/find-python.sh)
  echo "Creating $venv with $python"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade "pip<25" wheel
fi
echo "Installing $requirements into $venv (a few minutes the first time)"
if ! "$venv/bin/python" -m pip install --quiet -r "$requirements" -c constraints.txt; then
  echo "Installing $requirements failed: check the network access to PyPI and the error above, then run make again (delete $venv to start over)." >&2
  exit 1
fi
# The project's own packages (bot, actions, ofr, ofr_tools) and their commands
# (ofr-purge, ofr-unanswered, ...), editable: changes to the code apply at once.
if ! "$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .; then
  echo "Installing the project's own packages failed: see the error above (pyproject.toml), then run make again." >&2
  exit 1
fi
# TensorFlow 2.12 lists jax as a requirement, but only its TFLite converter uses it;
# with jax installed, every `import tensorflow` (each Rasa process) also imports jax:
# about 100 MB of memory and 0.4 s of start-up for nothing.
"$venv/bin/python" -m pip uninstall --quiet --yes jax jaxlib 2>/dev/null || true
