"""How long a new training example takes to reach the running bot through the staff
console: add it, train, check, publish, until the bot answers with it.

    .venv/bin/python bench/console_loop.py [--keep]

Starts `make run`'s servers on free ports against a copy of the project (so this
checkout is not changed), logs in to the console over HTTP like a browser (session
cookie, CSRF tokens), and prints the time of each step. The target of issue 18 is
45 s from "add" to the bot's new answer on a 2-core machine. It also prints what
`make run` holds at rest (all its processes, 30 s after start, nobody logged in) and
once a member of staff has logged in (the training worker starts then). A benchmark:
it prints numbers and never fails on them.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Tuple

import requests

from ofr_tools.processes import descendants, resident_mb

ROOT = Path(__file__).resolve().parent.parent
PARTS = (
    "config.yml",
    "domain.yml",
    "data",
    "docs/intents.md",
    "tests/nlu",
    "tests/event_questions",
    "tests/stories",
    ".rasa",
    "models/ofr.tar.gz",
)
QUESTION = "zorblax quintet umbrella"
PASSWORD = "a long benchmark password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_project(folder: Path) -> None:
    for part in PARTS:
        source, target = ROOT / part, folder / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        elif source.exists():
            shutil.copy(source, target)


def csrf(page: str) -> str:
    match = re.search(r'name="(?:login_)?csrf" value="([^"]+)"', page)
    if not match:
        raise RuntimeError("No CSRF token on the page.")
    return match.group(1)


def answers_partners(rasa: str) -> bool:
    reply = requests.post(
        f"{rasa}/webhooks/rest/webhook",
        json={"sender": f"bench-{time.time()}", "message": QUESTION},
        timeout=60,
    ).json()
    return any(
        "International Organization for Migration" in m.get("text", "") for m in reply
    )


def wait_for(session: requests.Session, url: str, text: str, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        page = session.get(url, timeout=30).text
        if text in page:
            return
        if "Failed:" in page:
            raise RuntimeError(re.search(r"Failed:[^<]*", page).group(0))
        time.sleep(1)
    raise RuntimeError(f"No {text!r} on {url} within {limit:.0f} s.")


def resident_total_mb(root: int) -> float:
    """Resident memory of ``root`` and every process under it."""
    return sum(resident_mb(pid) or 0.0 for pid in [root, *descendants(root)])


def run(work: Path) -> Tuple[Dict[str, float], Dict[str, float]]:
    project, var = work / "project", work / "var"
    copy_project(project)
    rasa_port, action_port, staff_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "RASA_PORT": str(rasa_port),
        "ACTION_PORT": str(action_port),
        "OFR_STAFF_ADDR": f"127.0.0.1:{staff_port}",
        "OFR_VAR_DIR": str(var),
        "OFR_PROJECT_DIR": str(project),
        "OFR_EVENTS_FILE": str(project / "data" / "events.yml"),
        "OFR_RATE_PER_CONVERSATION": "0",
        "OFR_RATE_PER_ADDRESS": "0",
    }
    env.pop("TELEGRAM_TOKEN", None)
    log = (work / "run.log").open("w")
    process = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    rasa, staff = f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{staff_port}"
    try:
        warm_from = time.monotonic()
        deadline = warm_from + 300
        while "Press Ctrl-C to stop." not in (work / "run.log").read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"The bot did not start: see {work / 'run.log'}")
            time.sleep(1)
        memory: Dict[str, float] = {}
        time.sleep(max(0.0, warm_from + 30 - time.monotonic()))
        memory["at rest, 30 s after start"] = resident_total_mb(process.pid)
        secret = work / "password"
        secret.write_text(PASSWORD + "\n")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "console.staff_user",
                "bench",
                "publisher",
                "--password-file",
                str(secret),
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        if answers_partners(rasa):
            raise RuntimeError(f"The bot already answers {QUESTION!r}: pick another.")
        session = requests.Session()
        token = csrf(session.get(f"{staff}/login", timeout=30).text)
        session.post(
            f"{staff}/login",
            data={
                "name": "bench",
                "password": PASSWORD,
                "login_csrf": token,
                "next": "/",
            },
            timeout=30,
        )
        # The training worker starts when staff log in and scores the model in
        # use once; by the time they have made a change it is done.
        times: Dict[str, float] = {}
        logged_in = time.monotonic()
        scores = var / "console" / "scores"
        while not list(scores.glob("*.json")):
            if time.monotonic() - warm_from > 300:
                raise RuntimeError("The console never scored the model in use.")
            time.sleep(0.5)
        times["(console warm after login)"] = time.monotonic() - logged_in
        memory["staff logged in, worker warm"] = resident_total_mb(process.pid)
        started = time.monotonic()
        token = csrf(session.get(f"{staff}/intents/ask_partners", timeout=30).text)
        session.post(
            f"{staff}/intents/ask_partners/examples",
            data={"csrf": token, "lang": "en", "text": QUESTION},
            timeout=60,
        )
        times["add the example"] = time.monotonic() - started
        token = csrf(session.get(f"{staff}/model", timeout=30).text)
        session.post(f"{staff}/model/train", data={"csrf": token}, timeout=30)
        wait_for(session, f"{staff}/model", "ready to publish", 900)
        times["train and check"] = time.monotonic() - started
        page = session.get(f"{staff}/model", timeout=30).text
        steps = dict(
            re.findall(r"· (train|check|test stories(?:, model in use)?) (\d+) s", page)
        )
        how = "fine-tuned" if "Fine-tuning" in page else "trained from scratch"
        data = {"csrf": csrf(page)}
        if 'name="reason"' in page:
            data["reason"] = "benchmark run: publish whatever the numbers"
        session.post(f"{staff}/model/publish", data=data, timeout=30)
        wait_for(session, f"{staff}/model", "Published by bench", 300)
        times["published"] = time.monotonic() - started
        while not answers_partners(rasa):
            if time.monotonic() - started > 1200:
                raise RuntimeError("The bot never answered with the new example.")
            time.sleep(0.5)
        times["the bot answers with it"] = time.monotonic() - started
        times.update({f"  of which {k}": float(v) for k, v in steps.items()})
        print(f"The model was {how}.")
        return times, memory
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ofr-console-bench-"))
    try:
        times, memory = run(work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("Staff console: a new training example until the bot answers with it")
    for step, seconds in times.items():
        print(f"  {step:<28} {seconds:6.0f} s")
    print("  target (issue 18): 45 s from adding the example to the new answer")
    print("Memory of make run (all its processes)")
    for moment, megabytes in memory.items():
        print(f"  {moment:<28} {megabytes:6.0f} MB")
    print("  target (issue 32): at most 900 MB at rest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
