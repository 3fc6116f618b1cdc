"""`make publish`: a new model without a restart, and conversations carry on."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import pytest
import requests

from ofr_tools.processes import children, command_line
from tests.conftest import ROOT
from tests.servers import running_bot

pytestmark = pytest.mark.server

MODEL = ROOT / "models" / "ofr.tar.gz"


def texts(answer: list) -> str:
    return "\n".join(message.get("text", "") for message in answer)


def test_publish_switches_model_while_conversations_go_on(tmp_path):
    new_model = tmp_path / "ofr-next.tar.gz"
    shutil.copy(MODEL, new_model)
    # The publication's record goes to this project folder, not the checkout's
    # models/ (ofr_tools/published_model.py).
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "domain.yml", project / "domain.yml")
    api_token = "api-token-for-this-test"
    env = {"RASA_ENABLE_API": "1", "RASA_AUTH_TOKEN": api_token}
    with running_bot(tmp_path, env=env) as bot:
        # The token is on no command line (ps shows them to every user).
        lines = [command_line(pid) for pid in children(bot.process.pid)]
        assert any("ofr_tools.rasa_serve run" in line for line in lines), lines
        assert not any(api_token in line for line in lines)
        # Rasa's own HTTP API is on here, and only with its token.
        assert requests.get(f"{bot.url}/status", timeout=10).status_code == 401
        status = requests.get(f"{bot.url}/status?token={api_token}", timeout=10)
        assert status.status_code == 200
        sender = "publish-user"
        assert "English" in texts(bot.rest(sender, "Can we continue in English?"))
        publish_url = f"{bot.url}/webhooks/model/publish"

        # Refused without the right token, or without a model file.
        assert requests.put(publish_url, json={}, timeout=10).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert requests.put(publish_url, headers=wrong, timeout=10).status_code == 401
        token = (tmp_path / "admin-token").read_text().strip()
        right = {"Authorization": f"Bearer {token}"}
        missing = {"model_file": str(tmp_path / "none.tar.gz")}
        answer = requests.put(publish_url, json=missing, headers=right, timeout=10)
        assert answer.status_code == 400

        result: dict = {}

        def publish() -> None:
            result["run"] = subprocess.run(
                [
                    str(ROOT / ".venv" / "bin" / "python"),
                    "ofr_tools/publish.py",
                    str(new_model),
                ],
                cwd=ROOT,
                env={
                    **os.environ,
                    "OFR_PUBLISH_URLS": bot.url,
                    "OFR_VAR_DIR": str(tmp_path),
                    "OFR_PROJECT_DIR": str(project),
                },
                capture_output=True,
                text=True,
                timeout=600,
            )

        worker = threading.Thread(target=publish)
        worker.start()
        # While the new model loads, the old one keeps answering.
        answered_during_load = 0
        while worker.is_alive():
            started = time.monotonic()
            reply = texts(bot.rest("someone-else", "Wer sind die Partner?"))
            if worker.is_alive():
                assert "IOM" in reply
                assert time.monotonic() - started < 30
                answered_during_load += 1
            time.sleep(0.5)
        worker.join()
        run = result["run"]
        assert run.returncode == 0, run.stderr
        assert "ofr-next.tar.gz" in run.stdout
        assert answered_during_load >= 1
        status_url = f"{bot.url}/webhooks/model/"
        # The status (it may hold the last publish error) needs the token too.
        assert requests.get(status_url, timeout=10).status_code == 401
        status = requests.get(status_url, headers=right, timeout=10).json()
        assert status["model"] == "ofr-next.tar.gz"
        # Every later start loads it too.
        record = (project / "models" / "published.json").read_text()
        assert str(new_model) in record
        # The conversation started before the switch continues (still in English).
        answer = texts(bot.rest(sender, "IOM?"))
        assert "International Organization for Migration" in answer, answer


def test_api_without_a_token_is_refused(tmp_path):
    run = subprocess.run(
        ["scripts/run.sh"],
        cwd=ROOT,
        env={
            **os.environ,
            "RASA_ENABLE_API": "1",
            "RASA_AUTH_TOKEN": "",
            "OFR_VAR_DIR": str(tmp_path),
            "RASA_PORT": "0",
            "ACTION_PORT": "0",
            "OFR_STAFF_ADDR": "127.0.0.1:0",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert run.stderr.strip() == (
        "RASA_ENABLE_API is set but RASA_AUTH_TOKEN is not: set it to a long random "
        "string, then run make run again."
    )
