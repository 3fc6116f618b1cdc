"""The events file as the running bot sees it: reloaded when it changes.

The store re-reads the file only when its modification time or size changed; a
broken file is reported once and the last good version keeps serving.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from ofr import settings
from ofr.events.index import EventIndex
from ofr.events.model import Event, EventsFileError, parse_events

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Signature:
    mtime_ns: int
    size: int


_MISSING = _Signature(-1, -1)


class EventsStore:
    """Serves the events of one file, reloading it when it changes."""

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)
        self._events: List[Event] = []
        self._index: Optional[EventIndex] = None
        self._signature: Optional[_Signature] = None
        self._failed: Optional[_Signature] = None
        self._error: Optional[str] = None
        self._lock = threading.Lock()

    @property
    def error(self) -> Optional[str]:
        """The problem with the current file, if it could not be loaded."""
        return self._error

    def _current_signature(self) -> _Signature:
        try:
            stat = self.path.stat()
        except OSError:
            return _MISSING
        return _Signature(stat.st_mtime_ns, stat.st_size)

    def events(self) -> List[Event]:
        """All events of the last good version of the file."""
        signature = self._current_signature()
        if signature in (self._signature, self._failed):
            return self._events
        with self._lock:
            if signature not in (self._signature, self._failed):
                self._reload(signature)
        return self._events

    def index(self) -> EventIndex:
        """The last good version, indexed for fast filtered queries.

        Each reload builds its index; a file never loaded has an empty one.
        """
        self.events()
        if self._index is None:
            self._index = EventIndex([])
        return self._index

    def _reload(self, signature: _Signature) -> None:
        try:
            events = parse_events(self.path)
        except EventsFileError as error:
            self._failed = signature
            self._error = str(error)
            keeping = " Keeping the last good version." if self._signature else ""
            logger.error("Events file not loaded: %s%s", error, keeping)
            return
        index = EventIndex(events)
        self._index, self._events = index, index.events
        self._signature = signature
        self._failed = None
        self._error = None
        logger.info("Loaded %d events from %s.", len(self._events), self.path)

    def get(self, event_id: str) -> Optional[Event]:
        return self.index().get(event_id)


_stores: Dict[Tuple[str, str], EventsStore] = {}


def default_store() -> EventsStore:
    """The store for OFR_EVENTS_FILE (default data/events.yml), one per process."""
    path = str(settings.current().events_file)
    key = (path, os.getcwd())
    if key not in _stores:
        _stores[key] = EventsStore(path)
    return _stores[key]
