"""Switch running Rasa servers to a newly trained model (``make publish``).

    .venv/bin/python ofr_tools/publish.py [models/ofr.tar.gz]

The servers are ``OFR_PUBLISH_URLS`` (comma-separated, e.g. both instances of the
cluster, published one after the other) or ``http://localhost:$RASA_PORT``. The
token is ``OFR_ADMIN_TOKEN`` or the one ``make run`` wrote to ``var/admin-token``.

What is published stays published (ofr_tools/published_model.py): once every server
took the model, ``models/published.json`` names it, so that every later start here
loads it too. For ``models/ofr.tar.gz`` it names a copy made before publishing,
``models/published-<time>.tar.gz``: the next training (``make test`` retrains it when
the data changed) overwrites the original.
"""

from __future__ import annotations

import argparse
import getpass
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import requests

from ofr import settings
from ofr_tools import published_model

WAIT_SECONDS = 900


class PublishError(RuntimeError):
    """A server did not take the model (one sentence saying why)."""


def fail(message: str) -> None:
    raise PublishError(message)


def admin_token() -> str:
    configured = settings.current()
    if configured.admin_token:
        return configured.admin_token
    path = configured.var_dir / "admin-token"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    fail(
        f"No admin token: start the bot with make run (it writes {path}) "
        "or set OFR_ADMIN_TOKEN to the server's token."
    )
    return ""


def server_urls() -> list[str]:
    return settings.current().rasa_urls


def publish(url: str, model: Path, token: str, say: Any = print) -> None:
    """Start loading on one server and wait until it answers with the new model;
    PublishError when it does not."""
    try:
        answer = requests.put(
            f"{url}/webhooks/model/publish",
            json={"model_file": str(model)},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    except requests.ConnectionError:
        fail(
            f"No bot answers at {url}: start it with make run, or set OFR_PUBLISH_URLS."
        )
    if answer.status_code != 202:
        try:
            reason = answer.json().get("error", answer.text)
        except ValueError:
            reason = answer.text
        fail(f"{url} did not take the model ({answer.status_code}): {reason}.")
    say(f"{url}: loading {model.name}; the current model answers meanwhile.")
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(2)
        try:
            status = requests.get(
                f"{url}/webhooks/model/",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            ).json()
        except (requests.RequestException, ValueError):
            continue  # busy; ask again
        last = status.get("publishing") or {}
        if last.get("state") == "done":
            say(f"{url}: now answering with {status['model']} ({last['seconds']} s).")
            return
        if last.get("state") == "failed":
            fail(
                f"{url} kept its model: the new one could not be loaded ({last['error']})."
            )
    fail(f"{url} did not finish loading within {WAIT_SECONDS} s: see its log.")


def user() -> str:
    """Who runs ``make publish``, for the record."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def kept_copy(root: Path, model: Path) -> Path:
    """A file that stays as it is until the next publication: models/ofr.tar.gz,
    which the next training overwrites, as a copy beside it; any other as it is."""
    if model != (root / published_model.TRAINED).resolve():
        return model
    copy = model.with_name(
        time.strftime(f"{published_model.COPY_PREFIX}%Y%m%d-%H%M%S.tar.gz")
    )
    shutil.copyfile(model, copy)
    return copy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="models/ofr.tar.gz")
    args = parser.parse_args(argv)
    model = Path(args.model).resolve()
    root = published_model.project_root()
    copy = None
    try:
        if not model.is_file():
            fail(f"No trained model at {args.model}: run make train first.")
        token = admin_token()
        copy = kept_copy(root, model)
        # The servers load the file named (at the same path on other machines,
        # docs/deployment.md); this checkout's later starts load the kept copy.
        for url in server_urls():
            publish(url, model, token)
    except PublishError as error:
        if copy is not None and copy != model:
            copy.unlink(missing_ok=True)
        print(error, file=sys.stderr)
        sys.exit(1)
    published_model.record(root, copy, user(), "make publish")
    print(
        f"Every start loads {copy.name} from now on ({published_model.RECORD} says "
        "so), until the next publication or make train."
    )


if __name__ == "__main__":
    main()
