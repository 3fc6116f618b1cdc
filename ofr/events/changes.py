"""What changed in the events file since it was last seen: new, changed, cancelled.

Calendar feeds raise an event's SEQUENCE whenever anything a calendar shows changes
(RFC 5545 §3.8.7.4); subscribers hear of a new event, of a change of date, place
or format, and of a cancellation. Both compare each event's fingerprints with the
version last recorded (bot/storage/event_versions.py keeps them in the database).
An event that disappears from the file is not reported: staff cancel an event by
setting ``status: cancelled``, and a broken file keeps its last good version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Literal, Optional, Tuple

from ofr.events.model import Event

ChangeKind = Literal["new", "changed", "cancelled"]

# What a subscriber is told about: the date, the place, the format, cancellation.
ALERT_FIELDS = ("start", "end", "format", "city", "state", "venue", "status")
# What a calendar shows: all of that and the texts.
CALENDAR_FIELDS = ALERT_FIELDS + ("title", "description", "registration_url")


@dataclass(frozen=True)
class Version:
    """The recorded state of one event."""

    event_id: str
    calendar_fingerprint: str
    alert_fingerprint: str
    sequence: int
    cancelled: bool


@dataclass(frozen=True)
class Change:
    """One event that subscribers hear about, at the sequence it reached."""

    event_id: str
    kind: ChangeKind
    sequence: int


def _fingerprint(event: Event, fields: Tuple[str, ...]) -> str:
    data: Dict[str, Any] = event.dict(include=set(fields))
    text = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def version_of(event: Event, sequence: int = 0) -> Version:
    return Version(
        event.id,
        _fingerprint(event, CALENDAR_FIELDS),
        _fingerprint(event, ALERT_FIELDS),
        sequence,
        event.cancelled,
    )


def compare(
    known: Dict[str, Version], events: Iterable[Event]
) -> Tuple[List[Version], List[Change]]:
    """The versions to record and the changes to announce.

    An event never seen before is new (or nothing, when it is already cancelled);
    a calendar-visible change raises the sequence; a change of an alert field is
    announced as "changed", or "cancelled" when the status turned to cancelled.
    """
    versions: List[Version] = []
    changes: List[Change] = []
    for event in events:
        before: Optional[Version] = known.get(event.id)
        if before is None:
            versions.append(version_of(event))
            if not event.cancelled:
                changes.append(Change(event.id, "new", 0))
            continue
        now = version_of(event, before.sequence)
        if now.calendar_fingerprint == before.calendar_fingerprint:
            continue
        now = version_of(event, before.sequence + 1)
        versions.append(now)
        if now.alert_fingerprint == before.alert_fingerprint:
            continue
        if event.cancelled and not before.cancelled:
            changes.append(Change(event.id, "cancelled", now.sequence))
        elif not event.cancelled:
            changes.append(Change(event.id, "changed", now.sequence))
    return versions, changes
