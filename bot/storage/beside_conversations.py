"""Where the bot's own tables live (alerts, tickets, feedback, Telegram updates):
beside the conversations, in the SQL tracker store's database, else in one SQLite
file of the var folder per kind of table."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Generic, TypeVar

import sqlalchemy as sa

from bot.storage.rasa_stores import unwrap

Store = TypeVar("Store")

_engines: Dict[str, sa.engine.Engine] = {}


def engine_beside(tracker_store: Any, var_dir: Path, filename: str) -> sa.engine.Engine:
    """The SQL tracker store's engine, so the bot's own tables live beside the
    conversations; else one SQLite file in the var folder (one engine per file)."""
    inner = unwrap(tracker_store) if tracker_store is not None else None
    engine = getattr(inner, "engine", None)
    if isinstance(engine, sa.engine.Engine):
        return engine
    path = var_dir / filename
    key = f"sqlite:///{path}"
    if key not in _engines:
        path.parent.mkdir(parents=True, exist_ok=True)
        _engines[key] = sa.create_engine(key)
    return _engines[key]


class StoresBeside(Generic[Store]):
    """One store of a kind per database, made on first use (it creates its tables)."""

    def __init__(self, make: Callable[[sa.engine.Engine], Store], filename: str):
        self.make = make
        self.filename = filename  # the SQLite file when the conversations are not SQL
        self._stores: Dict[str, Store] = {}

    def beside(self, tracker_store: Any, var_dir: Path) -> Store:
        engine = engine_beside(tracker_store, var_dir, self.filename)
        key = str(engine.url)
        if key not in self._stores:
            self._stores[key] = self.make(engine)
        return self._stores[key]
