"""The staff console: keep the assistant current from the browser.

Server-rendered pages (Flask and Jinja2), plain HTML forms that work without
JavaScript. Every page but the login needs a session; every form that changes
something carries the session's CSRF token; every change goes into the audit log
and, for files of the project, into a git commit authored by the staff member.
"""

from __future__ import annotations

import functools
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from flask import Flask, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

from console.accounts import Accounts
from console.answers import Answers
from console.edits import StaleEdit
from console.events_file import EventForm, EventFormError, EventsFile
from console.history import History
from console.pipeline import Pipeline
from console.services import KEY, Services, audit, commit, one_change
from console.training_data import TrainingData
from ofr import settings
from ofr.events.model import BERLIN, Event, EventsFileError

SESSION_COOKIE = "ofr_staff_session"
# A link ends before a closing punctuation mark ("… https://example.org.").
_LINK = re.compile(r"(https?://[^\s<>\"]*[^\s<>\".,;:!?)])")
LOGIN_COOKIE = "ofr_staff_login"  # the login form's CSRF token, before any session
REPO = Path(__file__).resolve().parent.parent
# An event page's view: the event and its form as saved now.
EventView = Callable[[Event, EventForm], ResponseReturnValue]


@dataclass(frozen=True)
class ConsoleConfig:
    root: Path  # the project: its data files and its git history
    var_dir: Path  # staff.db lives here
    events_file: Path
    # Start the training worker ahead of "Train" (tests that never train: off).
    warm_worker: bool = True

    @classmethod
    def from_settings(cls) -> ConsoleConfig:
        configured = settings.current()
        root = configured.project_dir or REPO
        events = configured.events_file
        return cls(
            root,
            configured.var_dir,
            events if events.is_absolute() else root / events,
        )


def create_app(config: ConsoleConfig) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    accounts = Accounts(config.var_dir / "staff.db")
    history = History(config.root)
    events = EventsFile(config.events_file)
    app.extensions[KEY] = Services(
        config.root,
        config.var_dir,
        accounts,
        history,
        events,
        TrainingData(config.root),
        Pipeline(config.root, config.var_dir, config.warm_worker),
        Answers(config.root),
    )
    from console import (
        answer_pages,
        conversation_pages,
        history_pages,
        inbox_pages,
        insight_pages,
        model_pages,
        question_pages,
        story_pages,
        training_pages,
    )

    for pages in (
        training_pages,
        answer_pages,
        inbox_pages,
        history_pages,
        model_pages,
        question_pages,
        conversation_pages,
        story_pages,
        insight_pages,
    ):
        app.register_blueprint(pages.blueprint)

    # ------------------------------------------------------------ every request

    def secure() -> bool:
        return request.is_secure or request.headers.get("X-Forwarded-Proto") == "https"

    @app.before_request
    def load_session() -> Optional[ResponseReturnValue]:
        token = request.cookies.get(SESSION_COOKIE, "")
        g.session = accounts.session(token) if token else None
        g.staff = g.session.staff if g.session else None
        if request.endpoint in ("login", "static"):
            return None
        if g.session is None:
            if request.method == "GET":
                return redirect(url_for("login", next=request.full_path.rstrip("?")))
            abort(401)
        if request.method == "POST" and not _same(
            request.form.get("csrf", ""), g.session.csrf
        ):
            abort(403, "The form was too old or came from elsewhere: open it again.")
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'; object-src 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.context_processor
    def page_values() -> dict:
        return {
            "staff": g.get("staff"),
            "csrf": g.session.csrf if g.get("session") else "",
        }

    @app.template_filter("chat")
    def chat(text: str) -> Markup:
        """Plain text as the chat shows it: line breaks kept, links clickable."""
        parts = []
        for line in escape(text).split("\n"):
            parts.append(_LINK.sub(r'<a href="\1">\1</a>', str(line)))
        return Markup("<br>".join(parts))

    @app.template_filter("when")
    def when(moment: Any) -> str:
        if isinstance(moment, int | float):
            return datetime.fromtimestamp(moment, BERLIN).strftime("%Y-%m-%d %H:%M")
        if isinstance(moment, datetime):
            return moment.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M")
        return str(moment)

    # ------------------------------------------------------------ login

    @app.route("/login", methods=["GET", "POST"])
    def login() -> ResponseReturnValue:
        target = _local(request.values.get("next", ""))
        if request.method == "GET":
            if g.session is not None:
                return redirect(target)
            # Kept while it exists: a second tab (or the browser's favicon request,
            # redirected here) must not invalidate the form already shown.
            return login_page(target, request.cookies.get(LOGIN_COOKIE))
        if not _same(
            request.form.get("login_csrf", ""), request.cookies.get(LOGIN_COOKIE, "")
        ):
            abort(
                403, "The login form was too old or came from elsewhere: open it again."
            )
        name = request.form.get("name", "").strip().lower()
        password = request.form.get("password", "")
        # The client's address: waitress takes it from X-Forwarded-For only when
        # the request comes from the trusted proxy (OFR_TRUSTED_PROXY, serve.py).
        address = request.remote_addr or "unknown"
        wait = accounts.claim_login(name, address)
        if wait > 0:
            seconds = math.ceil(wait)
            page = login_page(
                target,
                None,
                "Too many wrong passwords: wait "
                f"{seconds} second{'s' if seconds != 1 else ''}, then try again.",
                429,
            )
            page.headers["Retry-After"] = str(seconds)  # type: ignore[union-attr]
            return page
        staff = accounts.check_password(name, password)
        if staff is None:
            return login_page(target, None, "Wrong name or password.", 401)
        accounts.login_succeeded(name, address)
        accounts.audit(staff.name, "login", address=address)
        # Staff are here: have the training worker ready for their first "Train"
        # (it loads Rasa, about 700 MB, so it is not started before anyone needs it).
        app.extensions[KEY].pipeline.warm()
        conversation_pages.read_ahead(app)
        response = redirect(target)
        response.set_cookie(
            SESSION_COOKIE,
            accounts.open_session(staff),
            httponly=True,
            samesite="Strict",
            secure=secure(),
        )
        response.delete_cookie(LOGIN_COOKIE)
        return response

    def login_page(
        target: str,
        token: Optional[str],
        problem: Optional[str] = None,
        status: int = 200,
    ) -> ResponseReturnValue:
        """The login form with its CSRF token (a new one unless ``token``)."""
        token = token or secrets.token_urlsafe(32)
        page = app.make_response(
            (
                render_template(
                    "login.html", login_csrf=token, next=target, problem=problem
                ),
                status,
            )
        )
        page.set_cookie(
            LOGIN_COOKIE, token, httponly=True, samesite="Strict", secure=secure()
        )
        return page

    @app.post("/logout")
    def logout() -> ResponseReturnValue:
        accounts.close_session(request.cookies.get(SESSION_COOKIE, ""))
        audit("logout")
        response = redirect(url_for("login"))
        response.delete_cookie(SESSION_COOKIE)
        return response

    # ------------------------------------------------------------ pages

    @app.get("/")
    def home() -> ResponseReturnValue:
        return render_template("home.html", changes=history.changes(10))

    @app.get("/audit")
    def audit_log() -> ResponseReturnValue:
        return render_template("audit.html", entries=accounts.audit_log())

    # ------------------------------------------------------------ events

    @app.get("/events")
    def events_list() -> ResponseReturnValue:
        try:
            found = sorted(events.events(), key=lambda e: e.starts_at, reverse=True)
            problem = None
        except EventsFileError as error:
            found, problem = [], str(error)
        now = datetime.now(BERLIN)
        return render_template("events.html", events=found, now=now, problem=problem)

    @app.route("/events/new", methods=["GET", "POST"])
    @one_change
    def event_new() -> ResponseReturnValue:
        form = (
            EventForm()
            if request.method == "GET"
            else EventForm.from_request(request.form)
        )
        if request.method == "GET":
            return render_template("event_form.html", form=form, new=True, problems={})
        try:
            event = events.add(form)
        except EventFormError as error:
            return render_template(
                "event_form.html", form=form, new=True, problems=error.problems
            ), 422
        audit("event added", id=event.id)
        commit([config.events_file], f"Event {event.id} added in the staff console")
        return redirect(url_for("events_list", saved=event.id))

    def event_page(action: str) -> Callable[[EventView], EventView]:
        """GET and POST ``/events/<event_id>/<action>`` (a POST as one change) for an
        event that exists: the view gets it and its form as saved now, whose version
        an edit must have started from."""

        def route(view: EventView) -> EventView:
            @functools.wraps(view)
            def page(event_id: str) -> ResponseReturnValue:
                event = events.get(event_id)
                if event is None:
                    abort(404)
                return view(event, EventForm.from_event(event))

            app.add_url_rule(
                f"/events/<event_id>/{action}",
                view_func=one_change(page),
                methods=["GET", "POST"],
            )
            return view

        return route

    @event_page("edit")
    def event_edit(event: Event, current: EventForm) -> ResponseReturnValue:
        event_id = event.id
        if request.method == "GET":
            return render_template(
                "event_form.html",
                form=current,
                new=False,
                problems={},
                version=current.version,
            )
        form = EventForm.from_request(request.form)
        if request.form.get("version") != current.version:
            form.id = event_id
            return stale_event(form, current)
        try:
            events.update(event_id, form)
        except EventFormError as error:
            form.id = event_id
            return render_template(
                "event_form.html",
                form=form,
                new=False,
                problems=error.problems,
                version=current.version,
            ), 422
        audit("event changed", id=event_id)
        commit([config.events_file], f"Event {event_id} changed in the staff console")
        return redirect(url_for("events_list", saved=event_id))

    @event_page("cancel")
    def event_cancel(event: Event, current: EventForm) -> ResponseReturnValue:
        """Asks first: cancelling tells every subscriber."""
        event_id = event.id
        if request.method == "GET":
            return render_template(
                "event_cancel.html", event=event, version=current.version
            )
        if request.form.get("version") != current.version:
            stale = StaleEdit(f"the event {event_id}", current, None)
            return render_template(
                "event_cancel.html",
                event=event,
                version=current.version,
                problem=str(stale),
            ), 409
        events.cancel(event_id)
        audit("event cancelled", id=event_id)
        commit([config.events_file], f"Event {event_id} cancelled in the staff console")
        return redirect(url_for("events_list", saved=event_id))

    def stale_event(form: EventForm, current: EventForm) -> ResponseReturnValue:
        """The form again, with both versions, and the version it has now (409)."""
        stale = StaleEdit(f"the event {current.id}", current, form)
        return render_template(
            "event_form.html",
            form=form,
            new=False,
            problems={"file": str(stale)},
            version=current.version,
            theirs=current,
            yours=form,
        ), 409

    @app.errorhandler(401)
    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(413)
    @app.errorhandler(422)
    @app.errorhandler(503)
    def problem_page(error: Any) -> ResponseReturnValue:
        return render_template("problem.html", error=error), error.code

    return app


def _same(given: str, expected: str) -> bool:
    return bool(given and expected) and hmac.compare_digest(given, expected)


def _local(target: str) -> str:
    """Only paths on this console after login (no open redirect)."""
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
    ):
        return "/"
    return target
