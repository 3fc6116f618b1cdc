"""Every setting of the assistant that comes from the environment, in one place.

The Rasa server, the action server and the tools read their settings through
``current()``, so each variable has one name, one type, one default and one
check. A value that cannot be used is a ``SettingsError`` whose message is one
sentence per bad value, saying which variable and what to give instead;
``ofr-check-settings`` (run by ``make run`` before any server starts) prints them.
docs/configuration.md lists the variables.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

from ofr import office_hours
from ofr.office_hours import OfficeHours

T = TypeVar("T")
_DEFAULT_HOURS = office_hours.default()


class SettingsError(ValueError):
    """Settings the assistant cannot use; one sentence per bad value."""

    def __init__(self, problems: List[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Settings:
    """The assistant's settings; field comments name the environment variable."""

    # OFR_EVENTS_FILE: the events file staff edit.
    events_file: Path = Path("data/events.yml")
    # OFR_PUBLIC_URL: public address of the Rasa server, in links the bot sends.
    public_url: str = "http://localhost:5005"
    # OFR_EVENTS_PAGE_SIZE: events listed per answer before a "Show more" button.
    events_page_size: int = 3
    # OFR_ACTION_TIMEOUT: seconds the Rasa server waits for a custom action.
    action_timeout_seconds: float = 10.0
    # OFR_RATE_PER_CONVERSATION / OFR_RATE_PER_ADDRESS: messages per minute (0: off).
    rate_per_conversation: int = 20
    rate_per_address: int = 60
    # OFR_TURNS_AT_ONCE: turns the Rasa server handles at once; later ones wait in
    # arrival order (bot/dialogue/fair_turns.py; 0: no limit). 5: at 10
    # conversations p99 2.2 x p50, where 8 gave 3.2 x (docs/performance.md).
    turns_at_once: int = 5
    # OFR_REST_TOKEN: bearer token the REST channel asks for ("" = open).
    rest_token: str = ""
    # OFR_RASA_ADDR: the address the Rasa server listens on (this machine only unless
    # set; REST on any other address needs OFR_REST_TOKEN, see ``exposure_problems``).
    rasa_addr: str = "127.0.0.1"
    # OFR_TRUSTED_PROXY: addresses of the proxy whose X-Real-IP header names the
    # client (comma-separated; none: the header is never trusted).
    trusted_proxies: Tuple[str, ...] = ()
    # OFR_ADMIN_TOKEN: bearer token of the model routes ("" = publishing off).
    admin_token: str = ""
    # OFR_REDIS_URL: Redis shared by the instances of a cluster (button payloads).
    redis_url: Optional[str] = None
    # OFR_VAR_DIR: where make run keeps logs, tokens and the databases.
    var_dir: Path = Path("var")
    # RASA_PORT: the Rasa server's port on this machine.
    rasa_port: int = 5005
    # OFR_PUBLISH_URLS: the Rasa servers make publish switches (comma-separated).
    publish_urls: Tuple[str, ...] = ()
    # TELEGRAM_*: the Telegram channel (off without a token).
    telegram_token: str = ""
    telegram_webhook_secret: str = ""
    telegram_webhook_url: Optional[str] = None
    telegram_api_base_url: Optional[str] = None
    telegram_start_retry_max_seconds: float = 60.0
    # OFR_ALERT_POLL_SECONDS: how often the events file is checked for alerts.
    alert_poll_seconds: float = 10.0
    # OFR_RETENTION_DAYS: the Rasa server deletes conversations idle for longer, once
    # a day (bot/storage/retention.py; the privacy answer promises it).
    retention_days: int = 90
    # TELEGRAM_STAFF_CHAT_ID: the staff group that gets handed-over questions
    # (None: no handover; the bot points to IOM's contact details instead).
    telegram_staff_chat_id: Optional[int] = None
    # OFR_SMTP_URL / OFR_STAFF_EMAIL: tickets also go to this address by e-mail,
    # e.g. smtp://user:password@mail.example.org:587?starttls=1 (both or neither).
    smtp_url: Optional[str] = None
    staff_email: Optional[str] = None
    # OFR_HANDOVER_AVAILABLE / OFR_ANSWERS_BY_EMAIL: what the action server is told
    # instead of the Telegram token and the mail server's URL, which it never gets
    # (ofr/process_environment.py); "1" or unset.
    handover_told: bool = False
    answers_by_email_told: bool = False
    # OFR_STAFF_ANSWER_ACK_SECONDS: how long the web chat has to acknowledge a staff
    # answer before it is offered again (bot/channels/socketio/waiting_answers.py).
    staff_answer_ack_seconds: float = 10.0
    # OFR_STAFF_ADDR: where the staff console listens (console/, make run).
    staff_addr: Tuple[str, int] = ("127.0.0.1", 5080)
    # OFR_PROJECT_DIR: the project folder the console edits, trains and commits in
    # (None: this checkout).
    project_dir: Optional[Path] = None
    # OFR_STAFF_HOURS: when staff answer, e.g. "Mon-Fri 09:00-17:00" (Berlin time).
    staff_hours: OfficeHours = field(default_factory=lambda: _DEFAULT_HOURS)
    # Problems found while reading; ``current()`` raises them, ``read()`` keeps them.
    problems: Tuple[str, ...] = field(default=(), compare=False)

    def calendar_url(self, event_id: str) -> str:
        """Where the Rasa server serves an event's .ics file (bot/channels/routes/calendar.py)."""
        return f"{self.public_url}/webhooks/calendar/events/{event_id}.ics"

    def feed_url(self, filters: Dict[str, str], language: str) -> str:
        """The calendar feed of the upcoming events matching ``filters``
        (``EventFilter.feed_filters``), in ``language``."""
        query = urlencode({**filters, "lang": language})
        return f"{self.public_url}/webhooks/calendar/feed.ics?{query}"

    @property
    def handover_available(self) -> bool:
        """Questions can go to IOM staff: a staff group the Telegram bot posts to."""
        if self.handover_told:
            return True
        return self.telegram_staff_chat_id is not None and bool(self.telegram_token)

    @property
    def answers_by_email(self) -> bool:
        """Staff answers can also go to a web user's e-mail address."""
        return self.answers_by_email_told or bool(self.smtp_url and self.staff_email)

    @property
    def rasa_urls(self) -> List[str]:
        """The Rasa servers to publish a model to: OFR_PUBLISH_URLS or this one."""
        return list(self.publish_urls) or [f"http://localhost:{self.rasa_port}"]


class _Reader:
    """Reads variables from one environment, collecting one sentence per bad value."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: List[str] = []

    def text(self, name: str, default: str = "") -> str:
        return self.environ.get(name, "").strip() or default

    def optional(self, name: str) -> Optional[str]:
        return self.text(name) or None

    def number(
        self,
        name: str,
        default: T,
        parse: Callable[[str], T],
        ok: Callable[[T], bool],
        expected: str,
    ) -> T:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = parse(raw)
        except ValueError:
            value = None
        if value is None or not ok(value):
            self.problems.append(f"{name}={raw!r} is not {expected}.")
            return default
        return value


def _smtp_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(raw)
    return raw


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def smtp_uses_tls(url: str) -> bool:
    """``smtps://`` or ``smtp://…?starttls=1``: the connection is encrypted."""
    parts = urlsplit(url)
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0]
    return parts.scheme == "smtps" or starttls.lower() in ("1", "true", "yes")


def _addresses(raw: str) -> Tuple[str, ...]:
    found = tuple(part.strip() for part in raw.split(",") if part.strip())
    for address in found:
        ipaddress.ip_address(address)  # ValueError for anything but an IP address
    return found


def _flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise ValueError(raw)


def _email(raw: str) -> str:
    local, at, domain = raw.partition("@")
    if not (local and at and "." in domain) or any(c.isspace() for c in raw):
        raise ValueError(raw)
    return raw


def _project_dir(raw: str) -> Optional[Path]:
    path = Path(raw)
    return path if (path / "domain.yml").is_file() else None


def _host_port(raw: str) -> Tuple[str, int]:
    if raw == "off":  # scripts/run.sh starts no console
        return ("", 0)
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(raw)
    return host.strip("[]"), int(port)


def _chat_id(raw: str) -> int:
    return int(raw)  # ValueError for anything but a whole number


def _office_hours(raw: str) -> OfficeHours:
    parsed = office_hours.parse(raw)
    if parsed is None:
        raise ValueError(raw)
    return parsed


def _whole(raw: str) -> int:
    if not raw.isdigit():
        raise ValueError(raw)
    return int(raw)


def read(environ: Optional[Mapping[str, str]] = None) -> Settings:
    """The settings in ``environ`` (default: this process's), problems kept aside."""
    env = _Reader(os.environ if environ is None else environ)
    yes_no = "a yes or no: give 1 or 0, or leave it unset"
    per_minute = "a whole number of messages per minute: give one like 20, or 0 to turn the limit off"
    settings = Settings(
        events_file=Path(env.text("OFR_EVENTS_FILE", "data/events.yml")),
        public_url=env.text("OFR_PUBLIC_URL", "http://localhost:5005").rstrip("/"),
        events_page_size=env.number(
            "OFR_EVENTS_PAGE_SIZE",
            3,
            _whole,
            lambda n: 1 <= n <= 20,
            "a number of events per answer: give one from 1 to 20, or leave it unset",
        ),
        action_timeout_seconds=env.number(
            "OFR_ACTION_TIMEOUT",
            10.0,
            float,
            lambda s: 0 < s <= 300,
            "a number of seconds: give one above 0 and at most 300 (default 10), "
            "or leave it unset",
        ),
        rate_per_conversation=env.number(
            "OFR_RATE_PER_CONVERSATION", 20, _whole, lambda n: True, per_minute
        ),
        rate_per_address=env.number(
            "OFR_RATE_PER_ADDRESS", 60, _whole, lambda n: True, per_minute
        ),
        turns_at_once=env.number(
            "OFR_TURNS_AT_ONCE",
            5,
            _whole,
            lambda n: 0 <= n <= 1000,
            "a number of turns: give one from 1 to 1000, 0 for no limit, or leave "
            "it unset (default 5)",
        ),
        rest_token=env.text("OFR_REST_TOKEN"),
        rasa_addr=env.text("OFR_RASA_ADDR", "127.0.0.1"),
        trusted_proxies=env.number(
            "OFR_TRUSTED_PROXY",
            (),
            _addresses,
            lambda found: True,
            "a list of IP addresses: give the proxy's address as it reaches the "
            "Rasa server, e.g. 127.0.0.1 (comma-separated for several), or leave "
            "it unset when no proxy is in front",
        ),
        admin_token=env.text("OFR_ADMIN_TOKEN"),
        redis_url=env.optional("OFR_REDIS_URL"),
        var_dir=Path(env.text("OFR_VAR_DIR", "var")),
        rasa_port=env.number(
            "RASA_PORT",
            5005,
            _whole,
            lambda n: 0 < n < 65536,
            "a port number: give one from 1 to 65535",
        ),
        publish_urls=tuple(
            url.strip().rstrip("/")
            for url in env.text("OFR_PUBLISH_URLS").split(",")
            if url.strip()
        ),
        telegram_token=env.text("TELEGRAM_TOKEN"),
        telegram_webhook_secret=env.text("TELEGRAM_WEBHOOK_SECRET"),
        telegram_webhook_url=env.optional("TELEGRAM_WEBHOOK_URL"),
        telegram_api_base_url=env.optional("TELEGRAM_API_BASE_URL"),
        telegram_start_retry_max_seconds=env.number(
            "TELEGRAM_START_RETRY_MAX_SECONDS",
            60.0,
            float,
            lambda s: 0 < s <= 3600,
            "a number of seconds: give one between 1 and 3600, or leave it unset",
        ),
        alert_poll_seconds=env.number(
            "OFR_ALERT_POLL_SECONDS",
            10.0,
            float,
            lambda s: 0.5 <= s <= 3600,
            "a number of seconds: give one from 0.5 to 3600, or leave it unset",
        ),
        retention_days=env.number(
            "OFR_RETENTION_DAYS",
            90,
            _whole,
            lambda n: 1 <= n <= 3650,
            "a number of days: give a whole number from 1 to 3650 (default 90), "
            "or leave it unset",
        ),
        telegram_staff_chat_id=env.number(
            "TELEGRAM_STAFF_CHAT_ID",
            None,
            _chat_id,
            lambda n: n != 0,
            "a Telegram chat id: give the staff group's number, e.g. -1001234567890",
        ),
        smtp_url=env.number(
            "OFR_SMTP_URL",
            None,
            _smtp_url,
            lambda url: True,
            "a mail server address: write it like "
            "smtp://user:password@mail.example.org:587?starttls=1 (or smtps://...)",
        ),
        staff_email=env.number(
            "OFR_STAFF_EMAIL",
            None,
            _email,
            lambda address: True,
            "an e-mail address: give the staff mailbox, e.g. ofr-staff@example.org",
        ),
        handover_told=env.number(
            "OFR_HANDOVER_AVAILABLE", False, _flag, lambda v: True, yes_no
        ),
        answers_by_email_told=env.number(
            "OFR_ANSWERS_BY_EMAIL", False, _flag, lambda v: True, yes_no
        ),
        staff_answer_ack_seconds=env.number(
            "OFR_STAFF_ANSWER_ACK_SECONDS",
            10.0,
            float,
            lambda s: 0.5 <= s <= 120,
            "a number of seconds: give one from 0.5 to 120 (default 10), or leave it "
            "unset",
        ),
        project_dir=env.number(
            "OFR_PROJECT_DIR",
            None,
            _project_dir,
            lambda path: path is not None,
            "a project folder (one with domain.yml)",
        ),
        staff_addr=env.number(
            "OFR_STAFF_ADDR",
            ("127.0.0.1", 5080),
            _host_port,
            lambda hp: hp == ("", 0) or 0 < hp[1] < 65536,
            "an address to listen on: write it as host:port, e.g. 127.0.0.1:5080, or off",
        ),
        staff_hours=env.number(
            "OFR_STAFF_HOURS",
            _DEFAULT_HOURS,
            _office_hours,
            lambda hours: True,
            "office hours the bot can read: write them like "
            f"{office_hours.DEFAULT!r} (English day names, Berlin time)",
        ),
    )
    if bool(settings.smtp_url) != bool(settings.staff_email):
        env.problems.append(
            "OFR_SMTP_URL and OFR_STAFF_EMAIL go together: set both to send tickets "
            "by e-mail, or neither."
        )
    smtp = urlsplit(settings.smtp_url or "")
    if smtp.username and not smtp_uses_tls(settings.smtp_url or ""):
        if not is_loopback(smtp.hostname or ""):
            env.problems.append(
                "OFR_SMTP_URL would send the mail password unencrypted to "
                f"{smtp.hostname}: use smtps://... or add ?starttls=1."
            )
    return Settings(
        **{**settings.__dict__, "problems": tuple(env.problems)}  # frozen: rebuild
    )


def exposure_problems(configured: Settings, listen: Optional[str] = None) -> List[str]:
    """What is wrong with serving the Rasa server on ``listen`` (default
    ``OFR_RASA_ADDR``): REST on an address other machines reach needs a token."""
    address = configured.rasa_addr if listen is None else listen
    if is_loopback(address) or configured.rest_token:
        return []
    return [
        f"OFR_RASA_ADDR={address} would open REST to the network without a token: "
        "set OFR_REST_TOKEN to a long random string (clients then send "
        "'Authorization: Bearer <token>'), or leave OFR_RASA_ADDR unset to serve "
        "this machine only."
    ]


_last: Optional[Tuple[Tuple[Tuple[Any, Any], ...], Settings]] = None


def current(environ: Optional[Mapping[str, str]] = None) -> Settings:
    """The settings now; raises SettingsError when any value cannot be used.

    Read again only when this process's environment changed: the servers ask for
    the settings several times per message, and reading and checking every
    variable was a few per cent of each answer (py-spy under bench/load.py)."""
    global _last
    if environ is None:
        # A changed order only costs a re-read. The bytes view skips decoding
        # every variable (half the time: this runs several times per message).
        key = tuple((os.environb if os.supports_bytes_environ else os.environ).items())
        if _last is not None and _last[0] == key:
            return _last[1]
        settings = read(os.environ)
        if not settings.problems:
            _last = (key, settings)
    else:
        settings = read(environ)
    if settings.problems:
        raise SettingsError(list(settings.problems))
    return settings
