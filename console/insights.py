"""How the bot is doing, week by week, counted from the conversations the store
holds now (the review's summaries, console/conversation_review.py).

Nothing is kept: the numbers are counted at each request, so a purged or erased
conversation is gone from them too, and a count names nobody. Weeks start on
Monday, Berlin time; a conversation counts in the week of its first message.

Alert subscribers are counted the same way from the subscriptions the bot holds now
(bot/storage/event_alerts.py): a chat that unsubscribed, deleted its data or blocked
the bot is gone from every week, since nothing of it is kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Dict, Iterable, List, Optional, Tuple

from console.conversation_review import Summary
from ofr.events.model import BERLIN

# The turns whose share per week is shown, in the review's words.
SHARES = ("did_you_mean", "fallback", "thumbs_down", "handover")
TOP_INTENTS = 12


@dataclass
class Week:
    start: date
    conversations: int = 0
    channels: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    turns: int = 0
    flagged: Counter = field(default_factory=Counter)  # reason → turns

    def share(self, reason: str) -> float:
        """Per cent of this week's turns with ``reason``."""
        return 100.0 * self.flagged[reason] / self.turns if self.turns else 0.0


@dataclass
class Insights:
    weeks: List[Week]
    intents: List[Tuple[str, int]]  # the most asked, most first
    votes: List[Tuple[str, int, int]]  # intent, 👍, 👎 (intents with votes)
    channels: List[str]
    languages: List[str]

    @property
    def conversations(self) -> int:
        return sum(week.conversations for week in self.weeks)

    @property
    def turns(self) -> int:
        return sum(week.turns for week in self.weeks)


@dataclass
class SubscriberWeek:
    """Telegram chats subscribed to event alerts at the end of a week (or now, for
    this week), by the language they subscribed in; ``new``: first subscribed in
    this week."""

    start: date
    languages: Counter = field(default_factory=Counter)
    new: int = 0

    @property
    def subscribers(self) -> int:
        return sum(self.languages.values())


def week_of(moment: float) -> date:
    day = datetime.fromtimestamp(moment, BERLIN).date()
    return day - timedelta(days=day.weekday())


def count(rows: Iterable[Summary], weeks: int, now: float) -> Insights:
    """The last ``weeks`` weeks up to the one of ``now``."""
    last = week_of(now)
    starts = [last - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    by_start: Dict[date, Week] = {start: Week(start) for start in starts}
    intents: Counter = Counter()
    helpful: Dict[str, List[int]] = {}
    for row in rows:
        week = by_start.get(week_of(row.first_at)) if row.turns else None
        if week is not None:
            week.conversations += 1
            week.channels[row.channel] += 1
            week.languages[row.languages[0] if row.languages else "?"] += 1
        for at, intent, reasons, vote in row.moments:
            turn_week: Optional[Week] = by_start.get(week_of(at))
            if turn_week is None:
                continue
            turn_week.turns += 1
            for reason in set(reasons) & set(SHARES):
                turn_week.flagged[reason] += 1
            if intent:
                intents[intent] += 1
                if vote is not None:
                    counts = helpful.setdefault(intent, [0, 0])
                    counts[0 if vote else 1] += 1
    weeks_found = [by_start[start] for start in starts]
    return Insights(
        weeks_found,
        sorted(intents.items(), key=lambda item: (-item[1], item[0]))[:TOP_INTENTS],
        sorted(
            ((name, up, down) for name, (up, down) in helpful.items()),
            key=lambda item: (-(item[1] + item[2]), item[0]),
        ),
        sorted({c for week in weeks_found for c in week.channels}),
        sorted({lang for week in weeks_found for lang in week.languages}),
    )


def subscribers(
    starts: Iterable[Tuple[float, str]], weeks: int, now: float
) -> List[SubscriberWeek]:
    """Per week of the last ``weeks`` up to the one of ``now``: the chats subscribed
    by its end (``starts``: when each chat first subscribed, and its language)."""
    last = week_of(now)
    found = [
        SubscriberWeek(last - timedelta(weeks=n)) for n in range(weeks - 1, -1, -1)
    ]
    ends = [
        datetime.combine(week.start + timedelta(days=7), time.min, BERLIN).timestamp()
        for week in found
    ]
    for created, language in starts:
        began = week_of(created)
        for week, end in zip(found, ends, strict=True):
            if created < end:
                week.languages[language] += 1
            if week.start == began:
                week.new += 1
    return found
