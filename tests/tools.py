"""The staff tools (ofr_tools.<name>) in a test: in this process, or as `make` runs them."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from typing import Any, Dict, Optional

from tests.conftest import ROOT


def load_script(name: str) -> Any:
    """ofr_tools.<name> as a fresh module, to call its main() in this process."""
    spec = importlib.util.find_spec(f"ofr_tools.{name}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(
    name: str, *args: str, env: Optional[Dict[str, str]] = None
) -> subprocess.CompletedProcess:
    """ofr_tools.<name> as `make` runs it: a separate process in the project."""
    return subprocess.run(
        [sys.executable, "-m", f"ofr_tools.{name}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
    )
