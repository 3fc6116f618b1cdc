"""The search box of the list pages (answers, intents): ``?q=`` finds the entries
any of whose texts contains it, ignoring case."""

from __future__ import annotations

from typing import Callable, Iterable, List, TypeVar

from flask import request

Entry = TypeVar("Entry")


def search_query() -> str:
    """The request's ``q``, trimmed and in lower case ("" for none)."""
    return request.args.get("q", "").strip().lower()


def matching(
    entries: List[Entry], query: str, texts: Callable[[Entry], Iterable[str]]
) -> List[Entry]:
    """The entries with ``query`` in one of their ``texts``; all for an empty query."""
    if not query:
        return entries
    return [e for e in entries if any(query in t.lower() for t in texts(e))]
