"""Conversations: what users and the bot said, turn by turn, for staff to review.

``/conversations`` lists the stored conversations, newest first, masked, with
filters (channel, language, period, needs review); ``/conversations/<key>`` shows
one, every turn as the user saw it and what the bot understood. Per turn, staff
mark it reviewed or make its text an example of the intent it should have had
(the example editor's own checks, console/training_data.py).
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_right
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from console.conversation_review import (
    DEFAULT_THRESHOLD,
    MASKED,
    REASONS,
    Conversation,
    ConversationIndex,
    Summary,
    add_refusals,
    channel_of,
    correct_turn,
    corrections_in,
    is_key,
    mark_reviewed,
    read_turns,
    reviewed,
    reviewed_in,
    secret,
    with_refusals,
)
from console.conversation_story import conversation_version
from console.dialogue_files import AREAS, DialogueFiles
from console.notices import problem_key, problem_text
from console.services import audit, commit, one_change, services
from console.training_data import LANGUAGES, TrainingDataError

blueprint = Blueprint("conversations", __name__)
logger = logging.getLogger(__name__)
PAGE_SIZE = 25
PERIODS = {"7": 7, "30": 30, "90": 90, "all": None}
CHANNELS = ("socketio", "telegram", "rest")
INDEX_KEY = "ofr_conversations"
INTENTS_KEY = "ofr_conversation_intents"


def _index() -> ConversationIndex:
    return current_app.extensions.setdefault(INDEX_KEY, ConversationIndex())


def read_ahead(app: Flask) -> None:
    """Read the stored conversations in the background when staff log in, so the
    first visit to the list is not the one that waits for it (about 20 s at 10,000
    conversations; later visits read only what changed, bench/console_pages.py)."""

    def read() -> None:
        with app.app_context():
            try:
                _index().all(_endpoints(), _key())
            except Exception as error:  # the list page says what is wrong
                logger.info("Conversations not read ahead: %s", error)

    threading.Thread(target=read, name="conversations-read-ahead", daemon=True).start()


def _intent_options() -> List[Tuple[str, str]]:
    """Every intent and what it means, for the "should have been" list; read
    again only when a training data file or docs/intents.md changed."""
    root = services().root
    files = sorted((root / "data" / "nlu").glob("*/*.yml")) + [
        root / "docs" / "intents.md"
    ]
    signature = tuple(
        (str(path), path.stat().st_mtime_ns, path.stat().st_size)
        for path in files
        if path.is_file()
    )
    cached = current_app.extensions.get(INTENTS_KEY)
    if cached is None or cached[0] != signature:
        options = [(i.name, i.description) for i in services().training.intents()]
        cached = (signature, options)
        current_app.extensions[INTENTS_KEY] = cached
    return cached[1]


def _endpoints() -> Path:
    root, var_dir = services().root, services().var_dir
    endpoints = var_dir / "endpoints.yml"
    return endpoints if endpoints.is_file() else root / "endpoints.yml"


def _key() -> bytes:
    return secret(services().accounts.engine)


def _threshold(value: Optional[str]) -> float:
    """The confidence below which a turn needs review (staff set it, 0 to 1)."""
    if not value:
        return DEFAULT_THRESHOLD
    try:
        found = float(value)
    except ValueError:
        return DEFAULT_THRESHOLD
    if found != found:  # NaN
        return DEFAULT_THRESHOLD
    return min(max(found, 0.0), 1.0)


def _filters() -> Dict[str, str]:
    args = request.args
    period = args.get("period", "30")
    return {
        "channel": args.get("channel", "") if args.get("channel") in CHANNELS else "",
        "lang": args.get("lang", "") if args.get("lang") in LANGUAGES else "",
        "period": period if period in PERIODS else "30",
        "review": "1" if args.get("review") == "1" else "",
        "below": f"{_threshold(args.get('below')):.2f}",
    }


@blueprint.get("/conversations")
def listing() -> ResponseReturnValue:
    from bot.storage.conversations import StoreUnavailable

    filters = _filters()
    threshold = float(filters["below"])
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    problem = None
    index = _index()
    try:
        rows = index.all(_endpoints(), _key())
        refused = index.refusals(_endpoints(), _key(), services().var_dir)
        rows = [
            with_refusals(row, refused[row.key]) if row.key in refused else row
            for row in rows
        ]
    except StoreUnavailable as error:
        rows, refused, problem = [], {}, str(error)
    days = PERIODS[filters["period"]]
    since = time.time() - days * 86400 if days else None
    done = reviewed(services().accounts.engine)
    # Newest first: the period is the rows before the first older one.
    recent = (
        rows[: bisect_right(rows, -since, key=lambda row: -row.last_at)]
        if since is not None
        else rows
    )
    kept: List[Summary] = [
        row
        for row in recent
        if (not filters["channel"] or row.channel == filters["channel"])
        and (not filters["lang"] or filters["lang"] in row.languages)
    ]
    shown: List[Tuple[Summary, List[Tuple[int, List[str]]]]]
    if filters["review"]:
        # Kept by the index until a summary, the threshold or a reviewed turn changes.
        # Rate-limited conversations (few) are flagged afresh: their refusals are
        # read at each request, not kept by the index.
        flags = index.needing_review(threshold, done)
        shown = []
        for row in kept:
            why = row.why(threshold, done) if row.key in refused else flags.get(row.key)
            if why:
                shown.append((row, why))
    else:
        shown = [(row, []) for row in kept]
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    page = min(page, pages)
    rows_shown = [
        (row, why or row.why(threshold, done))
        for row, why in shown[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    ]
    return render_template(
        "conversations.html",
        rows=rows_shown,
        total=len(shown),
        page=page,
        pages=pages,
        filters=filters,
        query={name: value for name, value in filters.items() if value},
        periods=PERIODS,
        channels=CHANNELS,
        reasons=REASONS,
        problem=problem,
    )


def _conversation(key: str) -> Conversation:
    """The conversation named ``key``, or 404."""
    from bot.storage.conversations import StoreUnavailable

    if not is_key(key):
        abort(404)
    index = _index()
    try:
        sender = index.sender(_endpoints(), _key(), key)
        events = index.events(_endpoints(), sender) if sender else []
    except StoreUnavailable as error:
        abort(404, str(error))
    if not sender or not events:
        abort(404)
    turns, opening = read_turns(events)
    add_refusals(
        turns, index.refusals(_endpoints(), _key(), services().var_dir).get(key, ())
    )
    return Conversation(key, channel_of(sender, events), turns, opening)


@blueprint.get("/conversations/<key>")
def conversation(key: str) -> ResponseReturnValue:
    found = _conversation(key)
    return render_template(
        "conversation.html",
        conversation=found,
        reviewed=reviewed_in(services().accounts.engine, key),
        corrected=corrections_in(services().accounts.engine, key),
        threshold=_threshold(request.args.get("below")),
        reasons=REASONS,
        intents=_intent_options(),
        # Texts the console kept for this session, named by a key in the address.
        saved=problem_text(request.args.get("saved")),
        problem=problem_text(request.args.get("problem")),
        problem_turn=request.args.get("turn"),
        story_version=conversation_version(found),
        story_areas=[
            (area, what, DialogueFiles(services().root).files(area))
            for area, (_, _, _, what) in AREAS.items()
        ],
    )


def _turn(conversation: Conversation, number: str) -> Any:
    if not number.isdigit() or int(number) >= len(conversation.turns):
        abort(404)
    return conversation.turns[int(number)]


def _back(key: str, number: int, **message: str) -> ResponseReturnValue:
    """Back to the turn, with the message kept under a key (console/notices.py)."""
    values: Dict[str, Any] = {"key": key, "turn": number}
    values.update({kind: problem_key(text) for kind, text in message.items()})
    return redirect(url_for("conversations.conversation", **values) + f"#turn-{number}")


@blueprint.post("/conversations/<key>/turns/<number>/intent")
@one_change
def should_have_been(key: str, number: str) -> ResponseReturnValue:
    """The turn's text becomes an example of the intent it should have had."""
    found = _conversation(key)
    turn = _turn(found, number)
    intent = request.form.get("intent", "").strip()
    training = services().training
    if training.intent(intent) is None:
        return _back(
            key,
            turn.number,
            problem=f"Choose an intent from the list (not “{intent}”).",
        )
    text = turn.example_text
    if text is None:
        return _back(
            key, turn.number, problem="Nothing was typed in this turn (a button)."
        )
    if any(mark in text for mark in MASKED):
        return _back(
            key,
            turn.number,
            problem="This text has masked personal data: write an example in your "
            "own words on the intent's page instead.",
        )
    language = turn.language
    if language not in LANGUAGES:
        return _back(key, turn.number, problem="This turn's language is not known.")
    try:
        path = training.add(intent, language, text)
    except TrainingDataError as error:
        return _back(key, turn.number, problem=str(error))
    mark_reviewed(services().accounts.engine, key, turn.number, g.staff.name)
    correct_turn(services().accounts.engine, key, turn.number, intent)
    audit(
        "example added",
        intent=intent,
        language=language,
        text=text,
        source="conversation",
        conversation=key,
        turn=turn.number,
    )
    commit(
        [path],
        f"Example added for {intent} ({language}) from a conversation in the "
        "staff console",
    )
    return _back(key, turn.number, saved=f"“{text}” is now an example of {intent}.")


@blueprint.post("/conversations/<key>/turns/<number>/reviewed")
def mark(key: str, number: str) -> ResponseReturnValue:
    found = _conversation(key)
    turn = _turn(found, number)
    mark_reviewed(services().accounts.engine, key, turn.number, g.staff.name)
    audit("conversation turn reviewed", conversation=key, turn=turn.number)
    return _back(key, turn.number, saved=f"Turn {turn.number + 1} marked as reviewed.")
