"""Shared fixtures: the domain, trackers, a dispatcher, the trained model, and real
tracker stores (tests/stores.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "ofr.tar.gz"


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def text_of(domain: Dict[str, Any], response: str, language: str) -> str:
    """The text of a response in one language, as domain.yml gives it."""
    for variation in domain["responses"][response]:
        if variation["condition"][0]["value"] == language:
            return variation["text"]
    raise KeyError(response)


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def make_tracker(
    text: str = "",
    intent: str = "greet",
    entities: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    sender: str = "test-user",
) -> Tracker:
    """A tracker whose latest user message is ``text`` with ``intent``."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0},
        "entities": entities or [],
    }
    return Tracker(
        sender_id=sender,
        slots={"language": "de", **(slots or {})},
        latest_message=latest,
        events=events or [],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


@pytest.fixture(scope="session")
def trained_model() -> Path:
    if not MODEL.exists():
        pytest.fail(f"No trained model at {MODEL}: run `make train` first.")
    return MODEL


# Real tracker stores (tests/stores.py, imported here only when a test uses one):
# each gives the store and an endpoints file that names it.


@pytest.fixture(scope="session")
def rasa_domain() -> Any:
    """domain.yml as Rasa loads it (a rasa Domain)."""
    from rasa.shared.core.domain import Domain

    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def sqlite_store(tmp_path, rasa_domain) -> Iterator[tuple]:
    """A real SQLite tracker store and an endpoints file naming it."""
    from tests import stores

    with stores.sqlite_store(tmp_path, rasa_domain) as store_and_endpoints:
        yield store_and_endpoints


@pytest.fixture
def postgres_store(tmp_path, rasa_domain) -> Iterator[tuple]:
    """A real SQL tracker store in a fresh PostgreSQL database, dropped afterwards."""
    from tests import stores

    with stores.postgres_store(tmp_path, rasa_domain) as store_and_endpoints:
        yield store_and_endpoints


@pytest.fixture
def redis_store(tmp_path, rasa_domain) -> Iterator[tuple]:
    """Rasa's Redis tracker store under a key prefix of its own, removed afterwards."""
    from tests import stores

    with stores.redis_store(tmp_path, rasa_domain) as store_and_endpoints:
        yield store_and_endpoints
