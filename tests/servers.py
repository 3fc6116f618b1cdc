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

from ofr_tools.processes import children, command_line
from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Servers:
    """Handles to a running bot: base URL, folders and logs."""

    def __init__(
        self, rasa_port: int, action_port: int, var_dir: Path, staff_port: int = 0
    ) -> None:
        self.process: Optional[subprocess.Popen] = None
        self.rasa_port = rasa_port
        self.action_port = action_port
        self.var_dir = var_dir
        self.url = f"http://127.0.0.1:{rasa_port}"
        self.staff_url = f"http://127.0.0.1:{staff_port}"

    def rest(self, sender: str, message: str, metadata: Optional[Dict] = None) -> list:
        body = {"sender": sender, "message": message}
        if metadata is not None:
            body["metadata"] = metadata
        response = requests.post(
            f"{self.url}/webhooks/rest/webhook", json=body, timeout=60
        )
        response.raise_for_status()
        return response.json()

    def rasa_pid(self) -> int:
        """The process id of the Rasa server that scripts/run.sh started."""
        assert self.process is not None
        for pid in children(self.process.pid):
            if "ofr_tools.rasa_serve run --model" in command_line(pid):
                return pid
        raise RuntimeError("No Rasa server process under scripts/run.sh")

    def log(self, name: str = "rasa.log") -> str:
        return (self.var_dir / name).read_text(encoding="utf-8", errors="replace")


def start_script(script: str, environment: Dict[str, str]) -> subprocess.Popen:
    """A script of the project (``scripts/run.sh``) in a process group of its own,
    its output and errors one pipe of text lines. The model is the one `make test`
    trained unless the test says otherwise: a model published in this checkout
    (models/published.json) does not reach the tests."""
    return subprocess.Popen(
        [script],
        cwd=ROOT,
        env={"OFR_MODEL": str(ROOT / "models" / "ofr.tar.gz"), **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@contextmanager
def running_action_server(port: int, log: Path) -> Iterator[subprocess.Popen]:
    """The action server alone, for tests that stop and start it."""
    with log.open("a") as output:
        process = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "rasa"),
                "run",
                "actions",
                "--actions",
                "actions",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"The action server did not start: see {log}")
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def running_bot(
    var_dir: Path, env: Optional[Dict[str, str]] = None
) -> Iterator[Servers]:
    """Run scripts/run.sh on free ports until the block ends."""
    servers = Servers(free_port(), free_port(), var_dir, free_port())
    environment = {
        **os.environ,
        # Every test's messages come from this one address, many per conversation:
        # off unless a test turns them on (tests/test_rate_limits.py).
        "OFR_RATE_PER_CONVERSATION": "0",
        "OFR_RATE_PER_ADDRESS": "0",
        "RASA_PORT": str(servers.rasa_port),
        "ACTION_PORT": str(servers.action_port),
        "OFR_STAFF_ADDR": servers.staff_url.removeprefix("http://"),
        "OFR_VAR_DIR": str(var_dir),
        **(env or {}),
    }
    process = start_script("scripts/run.sh", environment)
    servers.process = process
    try:
        deadline = time.monotonic() + 480
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
        try:
            os.killpg(process.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
