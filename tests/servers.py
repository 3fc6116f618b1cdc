"""Start the real action server and Rasa server (scripts/run.sh) for a test session."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Optional

import requests

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Servers:
    """Handles to a running bot: base URL, folders and logs."""

    def __init__(self, rasa_port: int, action_port: int, var_dir: Path) -> None:
        self.rasa_port = rasa_port
        self.action_port = action_port
        self.var_dir = var_dir
        self.url = f"http://127.0.0.1:{rasa_port}"

    def rest(self, sender: str, message: str, metadata: Optional[Dict] = None) -> list:
        body = {"sender": sender, "message": message}
        if metadata is not None:
            body["metadata"] = metadata
        response = requests.post(
            f"{self.url}/webhooks/rest/webhook", json=body, timeout=60
        )
        response.raise_for_status()
        return response.json()

    def log(self, name: str = "rasa.log") -> str:
        return (self.var_dir / name).read_text(encoding="utf-8", errors="replace")


@contextmanager
def running_bot(
    var_dir: Path, env: Optional[Dict[str, str]] = None
) -> Iterator[Servers]:
    """Run scripts/run.sh on free ports until the block ends."""
    servers = Servers(free_port(), free_port(), var_dir)
    environment = {
        **os.environ,
        "RASA_PORT": str(servers.rasa_port),
        "ACTION_PORT": str(servers.action_port),
        "OFR_VAR_DIR": str(var_dir),
        **(env or {}),
    }
    process = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        output = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                raise RuntimeError("The bot did not start:\n" + "".join(output))
            output.append(line)
            if line.startswith("Press Ctrl-C to stop."):
                break
        else:
            raise RuntimeError("The bot did not start in time:\n" + "".join(output))
        yield servers
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
