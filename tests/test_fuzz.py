"""Bad input on every channel (issue 7), against the real running servers.

One bot serves all tests: REST, socket.io and the Telegram webhook (python-telegram-bot
against tests/fake_telegram.py), with Sanic's request limit SANIC_REQUEST_MAX_SIZE at
1 MiB as in production. Hypothesis runs derandomized with a bounded number of
examples, beside hand-written cases for each kind of bad input in the issue.
Expected: 4xx for requests that are not messages, a polite answer for odd text, never
a 5xx, the server alive and its memory back near the warm-up level at the end.
"""

from __future__ import annotations

import asyncio
import json
import queue
import socket
import time
import uuid
from collections import Counter
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests
import socketio
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.services.input_limits import MAX_BODY_BYTES, MAX_MESSAGE_CHARS, note
from ofr_tools.processes import resident_mb
from tests.conftest import text_of
from tests.fake_telegram import FakeTelegram, telegram_user, wait_until_processed
from tests.servers import Servers, running_bot

pytestmark = pytest.mark.server

SECRET = "fuzz-secret_42"
# Sanic's own limit for any request (its default is 100 MB); scripts/run.sh sets it.
SANIC_REQUEST_MAX_SIZE = 1024 * 1024
MAX_RSS_GROWTH_MB = 150
CASES: Counter = Counter()  # cases sent per channel, printed by the last test

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)

# --- inputs --------------------------------------------------------------------------

# Odd but readable texts, by category of the issue: the assistant must answer politely.
ODD_TEXTS = {
    "emoji": "😀🙈 👩‍👩‍👧‍👦 🇩🇪 OFR?",
    "only emoji": "🤔🤔🤔",
    "combining marks": "Z̷̧̛a̵̡̛l̸̨̛g̶̢̛o̷̧̕ e\u0301\u0301\u0301 OFR",
    "decomposed umlauts": "Ru\u0308ckkehr fu\u0308r Familien",
    "arabic": "ما هو برنامج العودة الطوعية؟",
    "hebrew": "מה זה OFR?",
    "rtl override": "\u202eRFO tsi saW",
    "mixed rtl": "OFR و IOM، ما الفرق؟",
    "cjk": "什么是OFR？",
    "fullwidth": "ＷＡＳ ＩＳＴ ＯＦＲ？",
    "zero width": "Was\u200b ist\u200c OFR\u200d?\ufeff",
    "nbsp and em space": "Was\u00a0ist\u2003OFR?",
    "control characters": "Was\x07 ist\x1b[31m OFR\x7f?\x9b",
    "nul": "Was ist\x00 OFR?",
    "only nul": "\x00\x00\x00",
    "crlf and tabs": "Was\r\nist\tOFR?\r",
    "html": "<b>Was ist OFR?</b>",
    "script": "<script>alert('x')</script>",
    "img onerror": '<img src=x onerror="alert(1)">',
    "sql": "'; DROP TABLE events; --",
    "sql or": "1' OR '1'='1",
    "yaml": "events:\n  - id: x\n    title: !!python/object/apply:os.system ['ls']",
    "yaml anchors": "a: &a [*a, *a]\nb: *a",
    "json in text": '{"sender": "x", "message": "y"}',
    "template": "{{ 7*7 }} ${jndi:ldap://x/a} %s%s%n {0}",
    "path": "../../../../etc/passwd",
    "markdown": "**Was** _ist_ `OFR`? [link](javascript:alert(1))",
    "null word": "null",
    "slash": "/",
    "unknown payload": "/no_such_intent",
    "payload with bad json": '/ask_events{"city": ',
    "payload setting language": '/switch_language{"language": "fr"}',
    "exactly the limit": "Was ist OFR? " * (MAX_MESSAGE_CHARS // 13),
    "single char": "?",
    "numbers": "1234567890",
}
NOTE_TEXTS = {  # texts that get a note instead of going to the assistant
    "empty": ("", "empty"),
    "spaces": ("     ", "empty"),
    "whitespace": ("\t\n \r\n\u2003", "empty"),
    "controls only": ("\x01\x02\x1b\x7f", "empty"),
    "one over the limit": ("a" * (MAX_MESSAGE_CHARS + 1), "too_long"),
    "long question": ("Was ist OFR? " * 300, "too_long"),
    "60,000 characters": ("x" * 60_000, "too_long"),
}

odd_characters = st.characters(exclude_categories=["Cs"])
fragments = st.sampled_from(list(ODD_TEXTS.values()))
odd_texts = st.one_of(
    st.text(odd_characters, max_size=120),
    st.text(st.characters(max_codepoint=0x9F), max_size=60),
    st.builds(
        lambda a, b: a + " " + b, fragments, st.text(odd_characters, max_size=40)
    ),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
not_strings = json_values.filter(lambda value: not isinstance(value, str))
not_senders = json_values.filter(
    lambda v: not isinstance(v, str) and (not isinstance(v, int) or isinstance(v, bool))
)


def body(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def message_body(text: str, **extra: Any) -> bytes:
    return body({"sender": f"fuzz-{uuid.uuid4().hex[:10]}", "message": text, **extra})


@st.composite
def malformed_rest_bodies(draw: Any) -> bytes:
    """A request body that is not a message: each branch one kind of mistake."""
    sender = f"fuzz-{draw(st.integers(0, 10**6))}"
    kind = draw(st.integers(0, 8))
    if kind == 0:  # not JSON at all (random bytes never make a whole message)
        return draw(st.binary(max_size=300))
    if kind == 1:  # JSON, but not an object
        return body(draw(json_values.filter(lambda v: not isinstance(v, dict))))
    if kind == 2:  # truncated: a prefix of a JSON object is never JSON
        whole = message_body(draw(st.text(max_size=50)))
        return whole[: draw(st.integers(0, len(whole) - 1))]
    if kind == 3:
        return body({"sender": draw(not_senders), "message": "Was ist OFR?"})
    if kind == 4:
        return body({"sender": sender, "message": draw(not_strings)})
    if kind == 5:  # fields missing, others present
        extra = draw(
            st.dictionaries(st.sampled_from(["metadata", "x", "msg"]), json_values)
        )
        return body({draw(st.sampled_from(["sender", "message"])): "x", **extra})
    if kind == 6:
        metadata = draw(
            json_values.filter(lambda v: v is not None and not isinstance(v, dict))
        )
        return body({"sender": sender, "message": "hi", "metadata": metadata})
    if (
        kind == 7
    ):  # invalid string contents: lone surrogates, NaN, control chars in sender
        return draw(
            st.sampled_from(
                [
                    b'{"sender": "a", "message": "\\ud800"}',
                    b'{"sender": "\\udfff", "message": "hi"}',
                    b'{"sender": "a", "message": NaN}',
                    b'{"sender": "a", "message": "hi", "metadata": {"x": Infinity}}',
                    body({"sender": "a\x00b", "message": "hi"}),
                    body({"sender": "", "message": "hi"}),
                    body({"sender": "s" * 129, "message": "hi"}),
                ]
            )
        )
    depth = draw(st.integers(20, 5000))  # nesting: too deep for the limit or for json
    return (
        b'{"sender": "a", "message": "hi", "metadata": '
        + b"[" * depth
        + b"]" * depth
        + b"}"
    )


# --- servers -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeTelegram]:
    fake = FakeTelegram().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def bot(tmp_path_factory, trained_model, telegram, http) -> Iterator[Servers]:
    env = {
        "TELEGRAM_TOKEN": "123456:FUZZ-token",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "SANIC_REQUEST_MAX_SIZE": str(SANIC_REQUEST_MAX_SIZE),
    }
    with running_bot(tmp_path_factory.mktemp("var"), env=env) as servers:
        telegram.wait_for("setMyCommands", 3)
        servers.pid = servers.rasa_pid()
        # Warm-up: each channel and each kind of answer once, so that the memory
        # measured now includes what the first messages load.
        warm_up = ("Was ist OFR?", "What is OFR?", "xqzv blorf", "🙈", "ä" * 2000)
        for text in (*warm_up, "Was ist OFR? " * 150, "! " * 1000):
            rest(http, servers, message_body(text))
        rest(http, servers, message_body("x" * 5000))
        post_update(http, servers, text_update(900, "Was ist OFR?"))
        with Chat(servers) as chat:
            chat.ask("Was ist OFR?")
        servers.warm_rss = resident_mb(servers.pid)
        yield servers


def rest(http: requests.Session, bot: Servers, data: bytes, **kwargs: Any):
    CASES["REST"] += 1
    return http.post(
        f"{bot.url}/webhooks/rest/webhook",
        data=data,
        headers={"Content-Type": "application/json"},
        timeout=60,
        **kwargs,
    )


def assert_polite(response: requests.Response) -> List[Dict[str, Any]]:
    assert response.status_code == 200, response.text[:300]
    answers = response.json()
    assert isinstance(answers, list) and answers, "no answer"
    assert any(isinstance(a.get("text"), str) and a["text"].strip() for a in answers)
    return answers


# --- REST ----------------------------------------------------------------------------

REST_MALFORMED = {
    "empty body": (b"", 400),
    "not json": (b"{not json", 400),
    "not utf-8": (b'{"sender": "a", "message": "\xff\xfe"}', 400),
    "utf-16 bom garbage": (b"\xff\xfe\x00\x00", 400),
    "trailing nul": (b'{"sender": "a", "message": "hi"}\x00', 400),
    "nan": (b'{"sender": "a", "message": NaN}', 400),
    "lone surrogate": (b'{"sender": "a", "message": "\\ud83d"}', 400),
    "nesting beyond json": (b"[" * 30_000 + b"]" * 30_000, 400),
    "list": (b"[]", 422),
    "null": (b"null", 422),
    "string": (b'"Was ist OFR?"', 422),
    "number": (b"42", 422),
    "empty object": (b"{}", 422),
    "no sender": (body({"message": "hi"}), 422),
    "no message": (body({"sender": "a"}), 422),
    "sender list": (body({"sender": ["a"], "message": "hi"}), 422),
    "sender object": (body({"sender": {"id": 1}, "message": "hi"}), 422),
    "sender float": (body({"sender": 4.2, "message": "hi"}), 422),
    "sender true": (body({"sender": True, "message": "hi"}), 422),
    "sender null": (body({"sender": None, "message": "hi"}), 422),
    "sender empty": (body({"sender": " ", "message": "hi"}), 422),
    "sender too long": (body({"sender": "s" * 129, "message": "hi"}), 422),
    "sender control": (body({"sender": "a\x00b", "message": "hi"}), 422),
    "message number": (body({"sender": "a", "message": 42}), 422),
    "message list": (body({"sender": "a", "message": ["hi"]}), 422),
    "message object": (body({"sender": "a", "message": {"text": "hi"}}), 422),
    "message null": (body({"sender": "a", "message": None}), 422),
    "message false": (body({"sender": "a", "message": False}), 422),
    "metadata string": (body({"sender": "a", "message": "hi", "metadata": "en"}), 422),
    "metadata list": (body({"sender": "a", "message": "hi", "metadata": ["en"]}), 422),
    "metadata deep": (
        b'{"sender": "a", "message": "hi", "metadata": '
        + b'{"a": ' * 40
        + b"1"
        + b"}" * 41,
        422,
    ),
    "just over 64 KiB": (message_body("x" * MAX_BODY_BYTES), 413),
    "100,000 characters": (message_body("Was ist OFR? " * 7_700), 413),
    "100,000 emoji": (message_body("😀" * 100_000), 413),
    "2 MB (Sanic's limit)": (message_body("x" * 2_000_000), 413),
}


@pytest.mark.parametrize("case", list(REST_MALFORMED))
def test_rest_refuses_malformed_requests(bot, http, case):
    data, status = REST_MALFORMED[case]
    response = rest(http, bot, data)
    assert response.status_code == status, response.text[:300]
    if status != 413 or len(data) <= SANIC_REQUEST_MAX_SIZE:
        assert "error" in response.json()


@settings(FUZZ, max_examples=450)
@given(data=malformed_rest_bodies())
def test_rest_fuzz_malformed_requests_get_4xx(bot, http, data):
    response = rest(http, bot, data)
    assert 400 <= response.status_code < 500, (data[:200], response.text[:300])


def test_rest_accepts_an_integer_sender(bot, http):
    # Rasa's own channel answered 500 to a number as sender; a number is an id.
    assert_polite(rest(http, bot, body({"sender": 4711, "message": "Was ist OFR?"})))


@pytest.mark.parametrize("case", list(ODD_TEXTS))
def test_rest_odd_text_gets_a_polite_answer(bot, http, case):
    assert_polite(rest(http, bot, message_body(ODD_TEXTS[case])))


@settings(FUZZ, max_examples=60)
@given(text=odd_texts)
def test_rest_fuzz_odd_text_gets_a_polite_answer(bot, http, text):
    assert_polite(rest(http, bot, message_body(text)))


@pytest.mark.parametrize("case", list(NOTE_TEXTS))
@pytest.mark.parametrize("language", ["en", "de"])
def test_rest_empty_or_too_long_text_gets_a_note(bot, http, case, language):
    text, problem = NOTE_TEXTS[case]
    data = message_body(text, metadata={"language": language})
    answers = assert_polite(rest(http, bot, data))
    assert [a["text"] for a in answers] == [note(problem, language)]


def test_rest_note_is_in_the_conversations_language(bot, http):
    sender = f"fuzz-{uuid.uuid4().hex[:8]}"
    rest(http, bot, body({"sender": sender, "message": "What is OFR about?"}))
    answers = rest(http, bot, body({"sender": sender, "message": "x" * 3000})).json()
    assert answers[0]["text"] == note("too_long", "en")


def test_rest_streaming_still_works(bot, http):
    response = rest(http, bot, message_body("Was ist OFR?"), params={"stream": "true"})
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines() if line]
    assert "Option Freiwillige Rückkehr" in lines[0]["text"]


def test_sanic_refuses_a_huge_body_before_reading_it(bot):
    """SANIC_REQUEST_MAX_SIZE works: a 50 MB Content-Length is refused at once."""
    CASES["REST"] += 1
    with socket.create_connection(("127.0.0.1", bot.rasa_port), timeout=10) as sock:
        sock.sendall(
            b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{"
        )
        reply = sock.recv(1000)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:100]


# --- Telegram ------------------------------------------------------------------------

_chat_ids = iter(range(7_000_000, 8_000_000))


def text_update(chat_id: int, text: str, language: str = "de") -> Dict[str, Any]:
    return {
        "update_id": chat_id,
        "message": {
            "message_id": chat_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "F"},
            "from": telegram_user(chat_id, language, first_name="F"),
            "text": text,
        },
    }


def with_field(update: Dict[str, Any], name: str, value: Any) -> Dict[str, Any]:
    update["message"][name] = value
    return update


def post_update(
    http: requests.Session,
    bot: Servers,
    update: Any,
    secret: Optional[str] = SECRET,
    raw: Optional[bytes] = None,
) -> requests.Response:
    CASES["Telegram"] += 1
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    response = http.post(
        f"{bot.url}/webhooks/telegram/webhook",
        data=raw if raw is not None else body(update),
        headers=headers,
        timeout=60,
    )
    if response.status_code == 200:
        # The webhook answers before the update is processed.
        wait_until_processed(bot.url, SECRET)
    return response


def texts_to(telegram: FakeTelegram, chat_id: int) -> List[str]:
    return [
        c["text"]
        for c in telegram.calls_of("sendMessage")
        if str(c.get("chat_id")) == str(chat_id)
    ]


TELEGRAM_MALFORMED = {
    "no secret": (dict(update=text_update(1, "hi"), secret=None), 403),
    "wrong secret": (dict(update=text_update(1, "hi"), secret="wrong"), 403),
    "undecodable secret": (dict(update=text_update(1, "hi"), secret="\xff\xfe"), 403),
    "empty body": (dict(update=None, raw=b""), 400),
    "not json": (dict(update=None, raw=b"{update"), 400),
    "not utf-8": (dict(update=None, raw=b'{"update_id": 1, "x": "\xff"}'), 400),
    "nan": (dict(update=None, raw=b'{"update_id": NaN}'), 400),
    "lone surrogate": (dict(update=None, raw=b'{"update_id": 1, "x": "\\ud800"}'), 400),
    "deep nesting": (dict(update=None, raw=b"[" * 50_000 + b"]" * 50_000), 400),
    "list": (dict(update=[1, 2]), 400),
    "number": (dict(update=7), 400),
    "no update_id": (dict(update={"message": {}}), 400),
    "update_id string": (dict(update={"update_id": "1"}), 400),
    "update_id float": (dict(update={"update_id": 1.5}), 400),
    "message a string": (dict(update={"update_id": 1, "message": "hi"}), 400),
    "message a list": (dict(update={"update_id": 1, "message": [1]}), 400),
    "date out of range": (
        dict(update=with_field(text_update(1, "hi"), "date", 10**20)),
        400,
    ),
    "chat a string": (dict(update=with_field(text_update(1, "hi"), "chat", "x")), 400),
    "over 1 MB": (dict(update=text_update(1, "x" * 1_100_000)), 413),
}


@pytest.mark.parametrize("case", list(TELEGRAM_MALFORMED))
def test_telegram_refuses_malformed_requests(bot, http, case):
    kwargs, status = TELEGRAM_MALFORMED[case]
    assert post_update(http, bot, **kwargs).status_code == status


@st.composite
def mangled_updates(draw: Any) -> Dict[str, Any]:
    """A real update with one field replaced by any JSON value, or removed."""
    update = text_update(next(_chat_ids), "Was ist OFR?")
    path = draw(
        st.sampled_from(
            [
                ("message",),
                ("message", "chat"),
                ("message", "chat", "id"),
                ("message", "chat", "type"),
                ("message", "from"),
                ("message", "from", "id"),
                ("message", "from", "language_code"),
                ("message", "date"),
                ("message", "message_id"),
                ("message", "text"),
                ("message", "entities"),
                ("message", "reply_to_message"),
                ("message", "photo"),
                ("callback_query",),
                ("edited_message",),
            ]
        )
    )
    target = update
    for key in path[:-1]:
        target = target[key]
    if draw(st.booleans()) and path[-1] in target:
        del target[path[-1]]
    else:
        target[path[-1]] = draw(json_values)
    return update


@settings(FUZZ, max_examples=250)
@given(update=mangled_updates())
def test_telegram_fuzz_mangled_updates_never_fail(bot, http, update):
    response = post_update(http, bot, update)
    assert response.status_code < 500, (update, response.text[:300])


@settings(FUZZ, max_examples=120)
@given(data=malformed_rest_bodies())
def test_telegram_fuzz_garbage_bodies_get_4xx(bot, http, data):
    response = post_update(http, bot, None, raw=data)
    assert 400 <= response.status_code < 500, (data[:200], response.text[:300])


TELEGRAM_TEXTS = {
    name: ODD_TEXTS[name]
    for name in (
        "emoji",
        "combining marks",
        "arabic",
        "rtl override",
        "control characters",
        "nul",
        "html",
        "sql",
        "yaml",
        "slash",
        "unknown payload",
        "payload setting language",
    )
}
TELEGRAM_TEXTS.update(
    {
        "only nul": "\x00",
        "spaces": "   ",
        "only the bot's name": "@ofr_test_bot",
        "3,000 characters": "Was ist OFR? " * 230,
        "4,096 characters": "x" * 4096,
    }
)


@pytest.mark.parametrize("case", list(TELEGRAM_TEXTS))
def test_telegram_odd_text_gets_a_polite_answer(bot, http, telegram, case):
    chat = next(_chat_ids)
    assert (
        post_update(http, bot, text_update(chat, TELEGRAM_TEXTS[case])).status_code
        == 200
    )
    sent = texts_to(telegram, chat)
    assert sent and sent[0].strip()


@settings(FUZZ, max_examples=30)
@given(text=odd_texts.filter(lambda t: t.strip()))
def test_telegram_fuzz_odd_text_gets_a_polite_answer(bot, http, telegram, text):
    chat = next(_chat_ids)
    assert post_update(http, bot, text_update(chat, text)).status_code == 200
    assert texts_to(telegram, chat)


def test_telegram_too_long_note_in_the_users_language(bot, http, telegram):
    chat = next(_chat_ids)
    post_update(http, bot, text_update(chat, "x" * 3000, language="en"))
    assert texts_to(telegram, chat) == [note("too_long", "en")]


# --- socket.io -----------------------------------------------------------------------


class Chat:
    """A socket.io client like the web chat widget (long-polling transport)."""

    def __init__(self, bot: Servers) -> None:
        self.url = bot.url
        self.client = socketio.Client(reconnection=False)
        self.answers: queue.Queue = queue.Queue()
        self.sessions: queue.Queue = queue.Queue()
        self.client.on("bot_uttered", self.answers.put)
        self.client.on("session_confirm", self.sessions.put)
        self.session_id = ""

    def __enter__(self) -> Chat:
        self.client.connect(
            self.url,
            socketio_path="/socket.io",
            transports=["polling"],
            wait_timeout=10,
        )
        self.session_id = self.new_session({"session_id": uuid.uuid4().hex})
        return self

    def __exit__(self, *_: Any) -> None:
        self.client.disconnect()

    def emit(self, event: str, data: Any) -> None:
        CASES["socket.io"] += 1
        self.client.emit(event, data)

    def new_session(self, data: Any) -> str:
        self.emit("session_request", data)
        return self.sessions.get(timeout=30)

    def drain(self, quiet: float = 0.3) -> List[Dict[str, Any]]:
        found = []
        try:
            while True:
                found.append(self.answers.get(timeout=quiet))
        except queue.Empty:
            return found

    def ask(self, text: str, language: str = "de") -> List[Dict[str, Any]]:
        self.drain(0.05)
        self.emit(
            "user_uttered",
            {
                "message": text,
                "session_id": self.session_id,
                "customData": {"language": language},
            },
        )
        return [self.answers.get(timeout=60), *self.drain()]

    def pending(self, expected: str) -> List[Dict[str, Any]]:
        """What was still on its way to this socket: ask the sentinel question and
        collect the answers that come before its answer ``expected``.

        Rasa answers one conversation's messages in order (the lock store), and a
        socket gets what the server emits in order; so once the sentinel's answer
        is here, nothing sent before it can still come, however slow the machine."""
        self.emit(
            "user_uttered",
            {
                "message": SENTINEL_QUESTION,
                "session_id": self.session_id,
                "customData": {"language": "en"},
            },
        )
        before: List[Dict[str, Any]] = []
        while True:
            try:
                answer = self.answers.get(timeout=60)
            except queue.Empty:
                raise AssertionError(
                    f"no answer to the sentinel question within 60 s; came: {before}"
                ) from None
            if answer.get("text") == expected:
                return before
            before.append(answer)


# Asked in English after German questions: its answer is told apart from theirs.
SENTINEL_QUESTION = "What is OFR?"


@pytest.fixture(scope="module")
def sentinel_answer(domain: Dict[str, Any]) -> str:
    return text_of(domain, "utter_what_is_ofr", "en")


SESSION_REQUESTS = [
    None,
    (None,),
    5,
    "session",
    [1, 2],
    {},
    {"session_id": None},
    {"session_id": {"a": 1}},
    {"session_id": [1]},
    {"session_id": ""},
    {"session_id": "x" * 10_000},
    {"session_id": "a\x00b"},
    {"session_id": 12},
    (1, 2, 3),
]


def test_socketio_session_request_with_odd_data_gets_a_session(bot):
    with Chat(bot) as chat:
        for data in SESSION_REQUESTS:
            session = chat.new_session(data)
            assert isinstance(session, str) and 0 < len(session) <= 128, data


def test_socketio_malformed_messages_are_dropped_and_the_chat_goes_on(
    bot, sentinel_answer
):
    with Chat(bot) as chat:
        session = chat.session_id
        for data in [
            None,
            (None,),
            42,
            "Was ist OFR?",
            ["Was ist OFR?"],
            {},
            {"session_id": session},
            {"message": 42, "session_id": session},
            {"message": None, "session_id": session},
            {"message": ["hi"], "session_id": session},
            {"message": {"text": "hi"}, "session_id": session},
            {"message": "Was ist OFR?"},
            {"message": "Was ist OFR?", "session_id": {"a": 1}},
            {"message": "Was ist OFR?", "session_id": ["x"]},
            {"message": "Was ist OFR?", "session_id": ""},
            ({"message": "Was ist OFR?", "session_id": session}, "extra"),
        ]:
            chat.emit("user_uttered", data)
            # One at a time: 16 dropped events and a message at once lose the
            # long-polling connection (see the report of issue 29).
            assert chat.pending(sentinel_answer) == [], data
        # Bad metadata is ignored, the message answered.
        for metadata in ("{not json", "[1]", 5, ["en"], {"language": 5}):
            chat.emit(
                "user_uttered",
                {
                    "message": "Was ist OFR?",
                    "session_id": session,
                    "customData": metadata,
                },
            )
            assert "Option Freiwillige Rückkehr" in chat.answers.get(timeout=60)["text"]
            chat.drain()


@settings(FUZZ, max_examples=150)
@given(data=json_values)
def test_socketio_fuzz_any_event_data_never_kills_the_channel(bot, socketio_chat, data):
    socketio_chat.emit("user_uttered", data)
    socketio_chat.emit("session_request", data)
    socketio_chat.sessions.get(timeout=30)


@pytest.fixture(scope="module")
def socketio_chat(bot) -> Iterator[Chat]:
    with Chat(bot) as chat:
        yield chat


def test_socketio_still_answers_after_the_fuzz(bot, socketio_chat):
    answers = socketio_chat.ask("Was ist OFR?")
    assert "Option Freiwillige Rückkehr" in answers[0]["text"]


@pytest.mark.parametrize("case", list(TELEGRAM_TEXTS))
def test_socketio_odd_text_gets_a_polite_answer(bot, socketio_chat, case):
    answers = socketio_chat.ask(TELEGRAM_TEXTS[case])
    assert any(isinstance(a.get("text"), str) and a["text"].strip() for a in answers)


@pytest.mark.parametrize("language", ["en", "de"])
def test_socketio_empty_or_too_long_text_gets_a_note(bot, language):
    with Chat(bot) as chat:
        assert chat.ask("", language)[0]["text"] == note("empty", language)
        assert chat.ask("x" * 20_000, language)[0]["text"] == note("too_long", language)


def test_socketio_refuses_a_packet_over_64_kib(bot, sentinel_answer):
    """Engine.IO answers the long-polling POST with 413; the server lives on."""
    probe = Chat(bot).__enter__()
    try:
        probe.emit(
            "user_uttered", {"message": "x" * 100_000, "session_id": probe.session_id}
        )
        # The refused POST makes the client give the connection up; from then on
        # nothing can arrive on it, so what has arrived is all there is.
        deadline = time.monotonic() + 60
        while probe.client.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not probe.client.connected
        assert probe.answers.empty()
    finally:
        probe.client.disconnect()
    with Chat(bot) as chat:
        assert "Option Freiwillige Rückkehr" in chat.ask("Was ist OFR?")[0]["text"]


@st.composite
def engineio_packets(draw: Any) -> str:
    """Raw Engine.IO/Socket.IO packets: well-formed frames with junk, or junk."""
    return draw(
        st.one_of(
            st.text(max_size=80),
            st.builds(lambda j: "42" + j, st.text(max_size=60)),
            st.builds(lambda v: "42" + json.dumps(["user_uttered", v]), json_values),
            st.sampled_from(
                ["4", "40", "41", "42", "42[", '42["user_uttered"', "6", "9x", "b4AAA"]
            ),
        )
    )


@settings(FUZZ, max_examples=150)
@given(packet=engineio_packets())
def test_socketio_fuzz_raw_long_polling_packets_never_fail(bot, http, packet):
    handshake = http.get(f"{bot.url}/socket.io/?EIO=4&transport=polling", timeout=30)
    assert handshake.status_code == 200
    sid = json.loads(handshake.text[1:])["sid"]
    url = f"{bot.url}/socket.io/?EIO=4&transport=polling&sid={sid}"
    CASES["socket.io"] += 1
    for data in ("40", packet):
        response = http.post(url, data=data.encode("utf-8", "replace"), timeout=30)
        assert response.status_code < 500, (packet, response.text[:200])
    http.post(url, data=b"1", timeout=30)  # close


WEBSOCKET_FRAMES = [
    "0",
    "x",
    "",
    "4",
    "42",
    "42[",
    "42[5]",
    '42["user_uttered"]',
    '42["user_uttered", 5]',
    '42["session_request", [1]]',
    "43[1]",
    '451-["user_uttered", {"_placeholder": true, "num": 0}]',
    "4" + "[" * 5000,
    "9",
    b"\x00\xff binary",
    '42["user_uttered", {"message": "Was ist OFR?", "session_id": "ws-fuzz"}]',
]


def test_socketio_websocket_frames_never_kill_the_server(bot):
    """Raw frames over the websocket transport; the connection may close, the
    server must go on."""
    url = f"ws://127.0.0.1:{bot.rasa_port}/socket.io/?EIO=4&transport=websocket"

    async def send_all() -> None:
        for frame in WEBSOCKET_FRAMES:
            CASES["socket.io"] += 1
            try:
                async with websockets.connect(url, open_timeout=30) as ws:
                    await asyncio.wait_for(ws.recv(), 30)  # Engine.IO open
                    await ws.send("40")
                    await asyncio.wait_for(ws.recv(), 30)  # Socket.IO connect
                    await ws.send(frame)
                    await asyncio.sleep(0.1)
            except websockets.ConnectionClosed:
                pass

    asyncio.run(send_all())
    with Chat(bot) as chat:
        assert "Option Freiwillige Rückkehr" in chat.ask("Was ist OFR?")[0]["text"]


def test_socketio_raw_requests_never_fail(bot, http):
    for path in (
        "/socket.io/",
        "/socket.io/?EIO=9&transport=polling",
        "/socket.io/?EIO=4&transport=carrier-pigeon",
        "/socket.io/?EIO=4&transport=polling&sid=nonexistent",
        "/socket.io/?EIO=4&transport=websocket",
    ):
        CASES["socket.io"] += 2
        assert http.get(bot.url + path, timeout=30).status_code < 500, path
        assert http.post(bot.url + path, data=b"\x00\xff", timeout=30).status_code < 500


# --- afterwards ----------------------------------------------------------------------


def test_after_the_fuzz_the_bot_answers_and_memory_is_back(bot, http, domain, capsys):
    """Runs last: the same Rasa process answers correctly, with bounded memory."""
    answers = rest(http, bot, message_body("Was ist OFR?")).json()
    expected = next(
        v["text"]
        for v in domain["responses"]["utter_what_is_ofr"]
        if v["condition"][0]["value"] == "de"
    )
    assert answers[0]["text"] == expected
    assert bot.rasa_pid() == bot.pid
    time.sleep(2)
    rss = resident_mb(bot.pid)
    log = bot.log()
    with capsys.disabled():
        print(
            f"\nfuzz cases: {dict(CASES)} = {sum(CASES.values())}; Rasa RSS after "
            f"warm-up {bot.warm_rss:.0f} MB, after the fuzz {rss:.0f} MB "
            f"(+{rss - bot.warm_rss:.0f} MB)"
        )
    assert rss - bot.warm_rss <= MAX_RSS_GROWTH_MB
    assert sum(CASES.values()) >= 1000
    # Nothing reached a crash: no 500 logged by Sanic, no socket.io handler failure.
    assert "Exception occurred while handling uri" not in log
    assert "handler error" not in log


def test_socketio_a_new_session_leaves_the_old_one(bot, sentinel_answer):
    """Issue 15: each session_request joined one more room and rooms were left only
    on disconnect, so one connection could grow the server's memory without bound
    (and kept receiving the answers of every session it had asked for)."""
    with Chat(bot) as first, Chat(bot) as second:
        old = first.session_id
        for _ in range(20):
            first.session_id = first.new_session({"session_id": uuid.uuid4().hex})
        second.session_id = old
        assert "Option Freiwillige Rückkehr" in second.ask("Was ist OFR?")[0]["text"]
        assert first.pending(sentinel_answer) == []
        # The socket still gets the answers of its current session.
        assert "Option Freiwillige Rückkehr" in first.ask("Was ist OFR?")[0]["text"]


def test_a_socketio_session_named_like_a_rest_sender_is_another_conversation(bot):
    sender = f"shared-{uuid.uuid4().hex[:8]}"
    bot.rest(sender, "Can we continue in English?")
    with Chat(bot) as chat:
        chat.session_id = chat.new_session({"session_id": sender})
        # The REST conversation switched to English; this one is new and German.
        answers = chat.ask("IOM?", language="de")
        assert "Internationale Organisation für Migration" in answers[0]["text"]
