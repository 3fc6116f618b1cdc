"""The tracker store Rasa was configured with, under Rasa's wrappers."""

from __future__ import annotations

from typing import Any


def unwrap(store: Any) -> Any:
    """Rasa wraps the configured store (fail-safe, awaitable); find the real one."""
    seen = set()
    while id(store) not in seen:
        seen.add(id(store))
        inner = getattr(store, "_tracker_store", None) or getattr(
            store, "tracker_store", None
        )
        if inner is None or inner is store:
            break
        store = inner
    return store
