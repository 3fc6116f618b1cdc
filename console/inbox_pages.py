"""The inbox: what users could not get answered, newest first, to turn into
training data or to dismiss.

The same groups as ``make unanswered`` (fallbacks and 👎 answers, grouped by similar
wording, masked), from the conversations where the running bot keeps them, and the
open handover tickets. Dismissed groups stay dismissed (``staff_dismissed``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, List, Optional, Set, Tuple

import sqlalchemy as sa
from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.accounts import METADATA
from console.notices import problem_key, problem_text
from console.services import audit, commit, one_change, services
from console.training_data import LANGUAGES, TrainingDataError

blueprint = Blueprint("inbox", __name__)
DAYS = 30

DISMISSED = sa.Table(
    "staff_dismissed",
    METADATA,
    sa.Column("language", sa.String(8), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("name", sa.String(32), nullable=False),
)


@dataclass(frozen=True)
class Item:
    language: str
    text: str
    count: int
    thumbs_down: int
    last_seen: Any
    variants: List[str]
    keys: List[str]


def _dismissed() -> Set[Tuple[str, str]]:
    engine = services().accounts.engine
    METADATA.create_all(engine, tables=[DISMISSED])
    with engine.connect() as connection:
        return {(r.language, r.key) for r in connection.execute(sa.select(DISMISSED))}


def _dismiss(language: str, keys: List[str], name: str) -> None:
    engine = services().accounts.engine
    METADATA.create_all(engine, tables=[DISMISSED])
    with engine.begin() as connection:
        for key in keys:
            connection.execute(
                sa.delete(DISMISSED).where(
                    DISMISSED.c.language == language, DISMISSED.c.key == key
                )
            )
            connection.execute(
                sa.insert(DISMISSED).values(
                    language=language, key=key[:255], at=time.time(), name=name
                )
            )


def _conversations() -> Tuple[List[Item], List[Any], Optional[str]]:
    """The unanswered groups and the open tickets; a problem if the store is away."""
    # Rasa's store classes load only when the inbox is opened.
    from bot.storage.conversations import (
        SQLConversations,
        StoreUnavailable,
        open_store,
    )
    from bot.storage.tickets import TicketStore, ticket_store_for
    from ofr_tools.unanswered_report import find_unanswered, group, mask

    root, var_dir = services().root, services().var_dir
    endpoints = var_dir / "endpoints.yml"
    if not endpoints.is_file():
        endpoints = root / "endpoints.yml"
    end = time.time()
    start = end - DAYS * 86400
    try:
        store = open_store(endpoints)
        groups = group(find_unanswered(store.conversations(start, end), start, end))
        opened = (
            TicketStore(store.engine)
            if isinstance(store, SQLConversations)
            else ticket_store_for(None, var_dir)
        ).listing("open")
        tickets = [(ticket, mask(ticket.question)) for ticket in opened]
    except StoreUnavailable as error:
        return [], [], str(error)
    hidden = _dismissed()
    items = [
        Item(
            g.language, g.text, g.count, g.thumbs_down, g.last_seen, g.variants, g.keys
        )
        for g in groups
        if not all((g.language, key) in hidden for key in g.keys)
    ]
    items.sort(key=lambda i: (i.last_seen, i.count), reverse=True)
    return items, tickets, None


@blueprint.get("/inbox")
def inbox() -> ResponseReturnValue:
    items, tickets, problem = _conversations()
    return render_template(
        "inbox.html",
        items=items,
        tickets=tickets,
        problem=problem or problem_text(request.args.get("problem")),
        saved=problem_text(request.args.get("saved")),
        intents=services().training.intents(),
        days=DAYS,
    )


def _item_from_form() -> Tuple[str, str, List[str]]:
    language = request.form.get("lang", "")
    if language not in LANGUAGES:
        abort(422, "Choose English or German.")
    keys = [k for k in request.form.getlist("key") if k][:50]
    return language, request.form.get("text", ""), keys


@blueprint.post("/inbox/add")
@one_change
def add_example() -> ResponseReturnValue:
    language, text, keys = _item_from_form()
    intent = request.form.get("intent", "").strip()
    training = services().training
    if training.intent(intent) is None:
        return redirect(
            url_for(
                "inbox.inbox",
                problem=problem_key(
                    f"Choose an intent from the list (not “{intent}”)."
                ),
            )
        )
    try:
        path = training.add(intent, language, text)
    except TrainingDataError as error:
        return redirect(url_for("inbox.inbox", problem=problem_key(str(error))))
    from flask import g

    _dismiss(language, keys, g.staff.name)
    audit("example added", intent=intent, language=language, text=text, source="inbox")
    commit(
        [path],
        f"Example added for {intent} ({language}) from the inbox in the staff console",
    )
    return redirect(
        url_for(
            "inbox.inbox",
            saved=problem_key(f"“{text}” is now an example of {intent}."),
        )
    )


@blueprint.post("/inbox/dismiss")
def dismiss() -> ResponseReturnValue:
    from flask import g

    language, text, keys = _item_from_form()
    _dismiss(language, keys, g.staff.name)
    audit("inbox dismissed", language=language, text=text)
    return redirect(url_for("inbox.inbox", saved=problem_key(f"Dismissed: “{text}”.")))
