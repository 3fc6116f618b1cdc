"""``/insights``: how the bot is doing week by week, as charts (server-rendered
SVG, console/charts.py) with the same numbers as tables and as CSV files."""

from __future__ import annotations

import csv
import io
import time
from typing import List, Sequence

from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue

from console import charts
from console.conversation_pages import _endpoints, _index, _key
from console.conversation_review import REASONS
from console.insights import SHARES, Insights, SubscriberWeek, count, subscribers
from console.services import services

blueprint = Blueprint("insights", __name__)
PERIODS = (4, 12, 26, 52)
LANGUAGE_NAMES = {"en": "English", "de": "German", "?": "unknown"}


def _insights() -> tuple:
    from bot.storage.conversations import StoreUnavailable

    try:
        weeks = int(request.args.get("weeks", "12"))
    except ValueError:
        weeks = 12
    weeks = weeks if weeks in PERIODS else 12
    try:
        rows = _index().all(_endpoints(), _key())
        problem = None
    except StoreUnavailable as error:
        rows, problem = [], str(error)
    return count(rows, weeks, time.time()), weeks, problem


def _subscribers(weeks: int) -> List[SubscriberWeek]:
    """The alert subscribers per week, from the subscriptions beside the
    conversations (none when the store cannot be read: the page says why)."""
    from bot.storage.conversations import StoreUnavailable
    from bot.storage.event_alerts import alert_store_for

    try:
        store = _index().beside(_endpoints())
    except StoreUnavailable:
        return subscribers([], weeks, time.time())
    starts = alert_store_for(store, services().var_dir).subscriber_starts()
    return subscribers(starts, weeks, time.time())


def _subscriber_languages(found: List[SubscriberWeek]) -> List[str]:
    return sorted({lang for week in found for lang in week.languages})


def _week_labels(found: Insights) -> List[str]:
    return [week.start.isoformat() for week in found.weeks]


@blueprint.get("/insights")
def page() -> ResponseReturnValue:
    found, weeks, problem = _insights()
    labels = _week_labels(found)
    by_channel = charts.stacked_columns(
        "channels",
        "Conversations per week, by channel",
        f"{found.conversations} conversations in {weeks} weeks; the table below "
        "gives each week's numbers.",
        labels,
        [(c, [w.channels[c] for w in found.weeks]) for c in found.channels],
    )
    by_language = charts.stacked_columns(
        "languages",
        "Conversations per week, by language (the first language of each)",
        f"{found.conversations} conversations in {weeks} weeks.",
        labels,
        [
            (LANGUAGE_NAMES.get(lang, lang), [w.languages[lang] for w in found.weeks])
            for lang in found.languages
        ],
    )
    shares = charts.lines(
        "shares",
        "Share of turns per week: did you mean, fallback, 👎, handover",
        f"Per cent of each week's {found.turns} user turns.",
        labels,
        [(REASONS[r], [w.share(r) for w in found.weeks]) for r in SHARES],
    )
    alerts = _subscribers(weeks)
    alert_languages = _subscriber_languages(alerts)
    by_subscribers = charts.stacked_columns(
        "subscribers",
        "Alert subscribers at the end of each week, by language",
        f"{alerts[-1].subscribers} Telegram chats subscribed to event alerts now; "
        "the table below gives each week's numbers.",
        labels,
        [
            (
                LANGUAGE_NAMES.get(lang, lang),
                [w.languages[lang] for w in alerts],
            )
            for lang in alert_languages
        ],
    )
    top = charts.bars(
        "intents",
        "The most asked intents",
        f"User turns per intent over {weeks} weeks, the {len(found.intents)} most asked.",
        [(name, float(n)) for name, n in found.intents],
    )
    return render_template(
        "insights.html",
        found=found,
        weeks=weeks,
        periods=PERIODS,
        problem=problem,
        charts={
            "channels": by_channel,
            "languages": by_language,
            "shares": shares,
            "intents": top,
            "subscribers": by_subscribers,
        },
        alerts=alerts,
        alert_languages=alert_languages,
        shares=SHARES,
        reasons=REASONS,
        language_names=LANGUAGE_NAMES,
    )


def _csv(name: str, header: Sequence[str], rows: Sequence[Sequence]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="ofr-{name}.csv"'},
    )


@blueprint.get("/insights/<table>.csv")
def table(table: str) -> ResponseReturnValue:
    found, _, _ = _insights()
    if table == "weeks":
        header = (
            ["week", "conversations"]
            + [f"channel {c}" for c in found.channels]
            + [f"language {lang}" for lang in found.languages]
            + ["turns"]
            + [f"{r} turns" for r in SHARES]
        )
        rows = [
            [w.start.isoformat(), w.conversations]
            + [w.channels[c] for c in found.channels]
            + [w.languages[lang] for lang in found.languages]
            + [w.turns]
            + [w.flagged[r] for r in SHARES]
            for w in found.weeks
        ]
        return _csv("weeks", header, rows)
    if table == "intents":
        return _csv("intents", ["intent", "turns"], [list(i) for i in found.intents])
    if table == "subscribers":
        weeks = [week.start.isoformat() for week in found.weeks]
        alerts = _subscribers(len(weeks))
        languages = _subscriber_languages(alerts)
        return _csv(
            "subscribers",
            ["week", "subscribers"]
            + [f"language {lang}" for lang in languages]
            + ["new subscribers"],
            [
                [w.start.isoformat(), w.subscribers]
                + [w.languages[lang] for lang in languages]
                + [w.new]
                for w in alerts
            ],
        )
    if table == "helpful":
        return _csv(
            "helpful",
            ["intent", "helpful", "not helpful"],
            [list(v) for v in found.votes],
        )
    abort(404)
