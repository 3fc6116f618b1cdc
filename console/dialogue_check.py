"""``rasa data validate`` on the project, as ``make validate`` runs it, with the test
stories too: a story or rule staff save must not contradict another (a story
structure conflict), use a name the domain lacks, or break Rasa's formats.

It runs as a process of its own (the console never imports Rasa) without the
console's secrets, and takes about 8 s: the edit lock is held meanwhile.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List

from ofr.process_environment import environment_for

TIMEOUT_SECONDS = 180
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NOISE = ("Processed story blocks", "Processed trackers")
_LOGGED = re.compile(r" (?:ERROR|WARNING) +[\w.]+ +- (.+)$")


def command(root: Path) -> List[str]:
    """What runs: Rasa's own validation of domain, data and test stories."""
    return [
        sys.executable,
        "-m",
        "rasa",
        "data",
        "validate",
        "--fail-on-warnings",
        "--domain",
        str(root / "domain.yml"),
        "--config",
        str(root / "config.yml"),
        "--data",
        str(root / "data"),
        str(root / "tests" / "stories"),
    ]


def problems(root: Path) -> List[str]:
    """What ``rasa data validate`` refuses, in its own words ([] when it passes)."""
    env = {
        **environment_for("training", os.environ),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    try:
        done = subprocess.run(
            command(root),
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [f"rasa data validate took longer than {TIMEOUT_SECONDS} s."]
    if done.returncode == 0:
        return []
    return _reasons(done.stdout + "\n" + done.stderr, done.returncode)


def _reasons(output: str, code: int) -> List[str]:
    """Rasa's errors and warnings (a conflict with the lines that tell it);
    Python warnings only when Rasa logged nothing (some pass, e.g. an unused
    response)."""
    lines = [_ANSI.sub("", line).rstrip() for line in output.splitlines()]
    logged: List[str] = []
    warned: List[str] = []
    for number, line in enumerate(lines):
        if any(noise in line for noise in _NOISE):
            continue
        found = _LOGGED.search(line)
        if found:
            text = found.group(1).strip()
            for more in lines[number + 1 : number + 8]:
                if not more.startswith("  ") or not more.strip():
                    break
                text += " " + more.strip()
            logged.append(text)
        elif "UserWarning: " in line:
            warned.append(line.split("UserWarning: ", 1)[1].strip())
    return list(dict.fromkeys(logged or warned)) or [
        f"rasa data validate failed (exit code {code})."
    ]
