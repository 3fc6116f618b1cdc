"""What is published stays published (issue 31, item 8): the model the console or
`make publish` published is the one every start loads (`make run`, `make shell`,
each instance of `make run-cluster`), until the next publication or `make train`.

No Rasa here: a small HTTP server stands in for the bot's publish route
(bot/channels/routes/model.py answers the same two requests), and the start
script's choice is read with ``scripts/run.sh --print-model``, which starts nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from console.accounts import Accounts
from console.app import ConsoleConfig, create_app
from console.pipeline import Job
from console.services import KEY
from ofr_tools import publish, published_model
from tests.conftest import ROOT
from tests.project_copy import git_repository

PASSWORD = "correct horse battery"
TOKEN = "t" * 32


class FakeBot(BaseHTTPRequestHandler):
    """The bot's publish route: PUT starts loading (202), GET says it is done."""

    loaded: List[str] = []

    def _answer(self, status: int, body: Dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers["Content-Length"])
        model = json.loads(self.rfile.read(length))["model_file"]
        assert self.headers["Authorization"] == f"Bearer {TOKEN}"
        assert Path(model).is_file()
        self.loaded.append(model)
        self._answer(202, {"state": "loading", "model_file": Path(model).name})

    def do_GET(self) -> None:  # noqa: N802
        name = Path(self.loaded[-1]).name if self.loaded else "ofr.tar.gz"
        self._answer(
            200, {"model": name, "publishing": {"state": "done", "seconds": 0.1}}
        )

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def fake_bot() -> Iterator[str]:
    FakeBot.loaded = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeBot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    """A project folder with a trained models/ofr.tar.gz and a console model."""
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "models").mkdir()
    shutil.copy(ROOT / "data" / "events.yml", root / "data" / "events.yml")
    shutil.copy(ROOT / "domain.yml", root / "domain.yml")
    (root / "models" / "ofr.tar.gz").write_bytes(b"trained by make train")
    var = tmp_path / "var"
    var.mkdir()
    (var / "admin-token").write_text(TOKEN, encoding="utf-8")
    monkeypatch.setenv("OFR_VAR_DIR", str(var))
    monkeypatch.delenv("OFR_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("OFR_MODEL", raising=False)
    monkeypatch.delenv("OFR_PROJECT_DIR", raising=False)
    return root


def start_choice(root: Path, **env: str) -> subprocess.CompletedProcess:
    """What scripts/run.sh would start in ``root`` (``--print-model``)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("OFR_MODEL", "OFR_PROJECT_DIR")
    }
    environment.update(VENV=str(ROOT / ".venv"), PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [str(ROOT / "scripts" / "run.sh"), "--print-model"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_console_publication_is_what_every_start_loads(project, monkeypatch):
    before = start_choice(project)
    assert before.returncode == 0, before.stderr
    assert re.match(r"Model: +models/ofr\.tar\.gz \(trained ", before.stdout)

    var = Path(os.environ["OFR_VAR_DIR"])
    git_repository(project)
    app = create_app(
        ConsoleConfig(project, var, project / "data" / "events.yml", warm_worker=False)
    )
    Accounts(var / "staff.db").set_user("paul", "publisher", PASSWORD)
    checked = project / "models" / "console-20261207-101010.tar.gz"
    checked.write_bytes(b"checked in the console")
    score = {"accuracy": 0.9, "right": 9, "total": 10}
    pipeline = app.extensions[KEY].pipeline
    pipeline.job = Job(
        "anna",
        state="ready",
        model=checked,
        scores={"en": score, "de": score},
        running={"en": score, "de": score},
        stories={"total": 1, "passed": 1, "failed": [], "error": ""},
    )
    with fake_bot() as url:
        monkeypatch.setenv("OFR_PUBLISH_URLS", url)
        client = app.test_client()
        page = client.get("/login")
        login = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
        client.post(
            "/login",
            data={"name": "paul", "password": PASSWORD, "login_csrf": login},
        )
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/model").text)
        client.post("/model/publish", data={"csrf": csrf.group(1)})
        deadline = time.time() + 30
        while pipeline.job.state == "publishing" and time.time() < deadline:
            time.sleep(0.1)
    assert pipeline.job.state == "published", pipeline.job.error
    assert FakeBot.loaded == [str(checked)]

    # A restart loads the published model, and says who published it.
    after = start_choice(project)
    assert after.returncode == 0, after.stderr
    assert re.match(
        r"Model: +models/console-20261207-101010\.tar\.gz "
        r"\(published by paul in the console, \d{4}-\d\d-\d\d \d\d:\d\d\)",
        after.stdout,
    ), after.stdout
    assert pipeline.published() == project / checked.relative_to(project)
    assert "console-20261207-101010" in client.get("/model").text

    # Newer console models come and go; the published one stays.
    for minute in range(11, 16):
        (project / "models" / f"console-20261207-10{minute}00.tar.gz").write_bytes(
            b"newer"
        )
    pipeline._tidy_models()
    assert checked.is_file()
    assert len(list((project / "models").glob("console-*.tar.gz"))) == 4


def test_make_publish_records_a_copy_that_a_later_training_leaves_alone(
    project, monkeypatch, capsys
):
    monkeypatch.setenv("OFR_PROJECT_DIR", str(project))
    trained = project / "models" / "ofr.tar.gz"
    with fake_bot() as url:
        monkeypatch.setenv("OFR_PUBLISH_URLS", url)
        publish.main([str(trained)])
        # The servers load the file named (the same path on other machines) ...
        assert FakeBot.loaded == [str(trained.resolve())]
        # ... and later starts here a copy that no training overwrites.
        first = published_model.in_use(project)
        assert first.parent == project / "models"
        assert first.name.startswith("published-") and first.read_bytes() == (
            b"trained by make train"
        )
        assert "Every start loads published-" in capsys.readouterr().out
        # make test retrains models/ofr.tar.gz when the data changed: what starts
        # is still what was published.
        trained.write_bytes(b"trained again")
        choice = start_choice(project)
        assert choice.stdout.startswith(f"Model:     models/{first.name} (")
        assert "with make publish" in choice.stdout
        time.sleep(1.1)  # the next copy's name has another second
        publish.main([str(trained)])
    second = published_model.in_use(project)
    assert second != first and second.read_bytes() == b"trained again"
    assert not first.exists(), "the copy no record names is removed"
    record = json.loads((project / "models" / "published.json").read_text())
    assert record["model"] == f"models/{second.name}"
    assert record["via"] == "make publish"


def test_make_publish_records_any_other_model_as_it_is(project, monkeypatch):
    monkeypatch.setenv("OFR_PROJECT_DIR", str(project))
    elsewhere = project.parent / "ofr-next.tar.gz"
    elsewhere.write_bytes(b"trained elsewhere")
    with fake_bot() as url:
        monkeypatch.setenv("OFR_PUBLISH_URLS", url)
        publish.main([str(elsewhere)])
    assert FakeBot.loaded == [str(elsewhere.resolve())]
    assert published_model.in_use(project) == elsewhere.resolve()
    assert not list((project / "models").glob("published-*"))


def test_a_failed_make_publish_records_nothing(project, monkeypatch, capsys):
    from tests.servers import free_port

    monkeypatch.setenv("OFR_PROJECT_DIR", str(project))
    monkeypatch.setenv("OFR_PUBLISH_URLS", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(SystemExit):
        publish.main([str(project / "models" / "ofr.tar.gz")])
    assert "No bot answers" in capsys.readouterr().err
    assert not (project / "models" / "published.json").exists()
    assert not list((project / "models").glob("published-*"))


def test_make_train_ends_a_publication(project, monkeypatch, capsys):
    monkeypatch.chdir(project)
    checked = project / "models" / "console-1.tar.gz"
    checked.write_bytes(b"checked")
    published_model.record(Path("."), checked, "anna", "console")
    assert published_model.in_use(Path(".")).resolve() == checked.resolve()
    assert published_model.main(["forget"]) == 0
    said = capsys.readouterr().out
    assert said.startswith("models/ofr.tar.gz is the model make run starts from now on")
    assert "console-1.tar.gz (published by anna in the console" in said
    assert start_choice(project).stdout.startswith("Model:     models/ofr.tar.gz (")
    assert published_model.main(["forget"]) == 0  # nothing to end: says nothing
    assert capsys.readouterr().out == ""


def test_a_missing_published_model_starts_the_trained_one_with_a_warning(project):
    gone = project / "models" / "console-gone.tar.gz"
    gone.write_bytes(b"x")
    published_model.record(project, gone, "anna", "console")
    gone.unlink()
    choice = start_choice(project)
    assert choice.returncode == 0
    assert choice.stdout.startswith("Model:     models/ofr.tar.gz (trained ")
    assert re.search(
        r"Warning: models/published.json names models/console-gone.tar.gz "
        r"\(published by anna in the console, .*\), which is missing: starting "
        r"models/ofr.tar.gz instead",
        choice.stderr,
    ), choice.stderr
    (project / "models" / "published.json").write_text("{not json", encoding="utf-8")
    broken = start_choice(project)
    assert broken.stdout.startswith("Model:     models/ofr.tar.gz (")
    assert "models/published.json is not a publication record" in broken.stderr


def test_ofr_model_overrides_the_publication(project):
    checked = project / "models" / "console-1.tar.gz"
    checked.write_bytes(b"checked")
    published_model.record(project, checked, "anna", "console")
    choice = start_choice(project, OFR_MODEL="/srv/models/other.tar.gz")
    assert choice.stdout == "Model:     /srv/models/other.tar.gz (set by OFR_MODEL)\n"


def makefile_folder(folder: Path) -> Path:
    """The Makefile and what its rules need, installed: only the model's rules
    have something to do."""
    shutil.copy(ROOT / "Makefile", folder / "Makefile")
    for name in ("config.yml", "domain.yml"):
        shutil.copy(ROOT / name, folder / name)
    for name in ("requirements.txt", "constraints.txt", "pyproject.toml"):
        (folder / name).write_text("", encoding="utf-8")
    for name in ("package.json", "package-lock.json"):
        (folder / name).write_text("{}", encoding="utf-8")
    later = time.time() + 1
    for stamp in ("node_modules/.installed", ".venv/.installed"):
        (folder / stamp).parent.mkdir(parents=True)
        (folder / stamp).touch()
        os.utime(folder / stamp, (later, later))
        later += 1
    (folder / "models").mkdir()
    return folder


def make_dry_run(folder: Path, target: str) -> str:
    """``make -n target`` in ``folder``: the commands make would run, none run."""
    run = subprocess.run(
        ["make", "-n", target, f"VENV={folder / '.venv'}"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.mark.parametrize("target", ["run", "shell", "run-cluster"])
def test_make_does_not_retrain_over_a_publication(tmp_path, target):
    makefile_folder(tmp_path)
    (tmp_path / "models" / "ofr.tar.gz").write_bytes(b"old")
    nlu = tmp_path / "data" / "nlu" / "en" / "contact.yml"
    nlu.parent.mkdir(parents=True)
    shutil.copy(ROOT / "data" / "nlu" / "en" / "contact.yml", nlu)
    os.utime(nlu, (time.time() + 9, time.time() + 9))  # changed after training
    assert "train --fixed-model-name ofr" in make_dry_run(tmp_path, target)

    (tmp_path / "models" / "console-1.tar.gz").write_bytes(b"checked")
    published_model.record(
        tmp_path, tmp_path / "models" / "console-1.tar.gz", "anna", "console"
    )
    commands = make_dry_run(tmp_path, target)
    assert "train --fixed-model-name ofr" not in commands
    assert "scripts/run" in commands


def test_make_train_runs_forget_after_training(tmp_path):
    makefile_folder(tmp_path)
    commands = make_dry_run(tmp_path, "train").splitlines()
    trains = next(i for i, c in enumerate(commands) if "train --fixed-model" in c)
    forgets = next(i for i, c in enumerate(commands) if "published_model forget" in c)
    assert trains < forgets
