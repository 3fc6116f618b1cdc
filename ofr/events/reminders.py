"""When "remind me" sends its reminder: the day before an event.

A timed event is reminded of 24 hours before it starts (a meeting at 10:00 on
Wednesday: Tuesday at 10:00); an all-day event at 09:00 Berlin time the day before.
Only events known to the day can be reminded of; the rule is read again when the
reminder is due, so a reminder follows an event that moved.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from ofr.events.model import Event

ALL_DAY_HOUR = 9


def reminder_time(event: Event) -> Optional[datetime]:
    """When to remind of ``event``; None when it has no day to count back from."""
    if event.date_precision != "day":
        return None
    if event.all_day:
        return event.starts_at - timedelta(days=1) + timedelta(hours=ALL_DAY_HOUR)
    return event.starts_at - timedelta(days=1)


def can_remind(event: Event, now: datetime) -> bool:
    """True while a reminder set now would still come before the event."""
    moment = reminder_time(event)
    return moment is not None and not event.cancelled and now < moment
