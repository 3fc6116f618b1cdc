"""Talk to the running bot over REST, in both languages, as a user would."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Iterator

import pytest

from ofr.messages import message
from tests.conftest import text_of
from tests.servers import Servers, running_bot

pytestmark = pytest.mark.server


# Secrets the servers of this module get; which process may hold which is checked
# in test_each_process_holds_only_its_own_secrets. None of them changes what the
# tests here see: without TELEGRAM_TOKEN neither Telegram nor the handover (and so
# no mail) is on.
SECRETS = {
    "OFR_SMTP_URL": "smtp://127.0.0.1:9",
    "OFR_STAFF_EMAIL": "ofr-staff@example.org",
    "TELEGRAM_WEBHOOK_SECRET": "webhook-secret-for-tests",
    "OFR_ADMIN_TOKEN": "admin-token-for-tests",
}


@pytest.fixture(scope="module")
def bot(tmp_path_factory, trained_model) -> Iterator[Servers]:
    with running_bot(tmp_path_factory.mktemp("var"), SECRETS) as servers:
        yield servers


def sender() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def reply_after(bot: Servers, first: str, then: str) -> str:
    """The first answer's text to ``then``, in a new conversation begun with ``first``."""
    user = sender()
    bot.rest(user, first)
    return bot.rest(user, then)[0]["text"]


@pytest.mark.parametrize(
    ("message", "response", "language"),
    [
        ("Was ist eigentlich OFR?", "utter_what_is_ofr", "de"),
        ("What is OFR about?", "utter_what_is_ofr", "en"),
        ("wer steckt hinter dem projekt", "utter_partners", "de"),
        ("who are the partners of ofr", "utter_partners", "en"),
        ("Wie lautet die Telefonnummer?", "utter_contact_phone", "de"),
        ("what's the email address", "utter_contact_email", "en"),
        (
            "wie viel geld bekommt mein klient wenn er zurückkehrt",
            "utter_individual_case",
            "de",
        ),
        ("how much money will I get if I go back?", "utter_individual_case", "en"),
    ],
)
def test_answers_in_the_language_of_the_question(
    bot, domain, message, response, language
):
    answers = bot.rest(sender(), message)
    assert answers, f"no answer to {message!r}"
    assert answers[0]["text"] == text_of(domain, response, language)


def test_ambiguous_message_keeps_the_conversation_language(bot, domain):
    reply = reply_after(bot, "What is OFR?", "IOM?")
    assert reply == text_of(domain, "utter_iom", "en")


def test_channel_hint_sets_the_first_language(bot, domain):
    answers = bot.rest(sender(), "BAMF", metadata={"language": "en-GB"})
    assert answers[0]["text"] == text_of(domain, "utter_bamf", "en")


def test_without_a_hint_the_first_language_is_german(bot, domain):
    answers = bot.rest(sender(), "GIZ?")
    assert answers[0]["text"] == text_of(domain, "utter_giz", "de")


def test_switch_language_on_request(bot, domain):
    user = sender()
    bot.rest(user, "Hallo!")
    answers = bot.rest(user, "Können wir auf Englisch weitermachen?")
    assert answers[0]["text"] == "Sure — I'll continue in English."
    answers = bot.rest(user, "Und wie ist die Telefonnummer von der IOM?")
    # A clearly German message switches back: the user writes German again.
    assert answers[0]["text"] == text_of(domain, "utter_contact_phone", "de")


def test_what_can_you_do_offers_buttons(bot):
    answers = bot.rest(sender(), "what can you do?")
    payloads = [b["payload"] for b in answers[0]["buttons"]]
    assert "/ask_events" in payloads and "/ask_contact" in payloads


def test_button_payload_answers_in_the_conversation_language(bot, domain):
    reply = reply_after(bot, "Hallo, was kannst du?", "/ask_handbook")
    assert reply == text_of(domain, "utter_handbook", "de")


def test_low_confidence_asks_to_rephrase_with_topics(bot, domain):
    # FallbackClassifier predicts nlu_fallback below its threshold; the rule answers.
    answers = bot.rest(sender(), "/nlu_fallback", metadata={"language": "en"})
    assert answers[0]["text"] == text_of(domain, "utter_rephrase", "en")
    assert "/ask_events" in [b["payload"] for b in answers[0]["buttons"]]


@pytest.mark.parametrize("gibberish", ["xqzv blorf wugga", "asdfgh jklö"])
def test_gibberish_gets_help_not_a_wrong_answer(bot, domain, gibberish):
    answers = bot.rest(sender(), gibberish, metadata={"language": "en"})
    helpful = {
        text_of(domain, r, language)
        for r in ("utter_rephrase", "utter_out_of_scope")
        for language in ("en", "de")
    } | {message("did_you_mean", language) for language in ("en", "de")}
    assert answers[0]["text"] in helpful


def test_out_of_scope_says_what_the_bot_can_do(bot, domain):
    answers = bot.rest(sender(), "Wie wird das Wetter morgen in Berlin?")
    assert answers[0]["text"] == text_of(domain, "utter_out_of_scope", "de")


def stored_events(bot: Servers, user: str) -> int:
    with sqlite3.connect(bot.var_dir / "tracker.db") as db:
        query = "select count(*) from events where sender_id = ?"
        return db.execute(query, (f"rest:{user}",)).fetchone()[0]


@pytest.mark.parametrize(
    ("question", "request_text", "language"),
    [
        ("Wer sind die Partner?", "Bitte löschen Sie meine Daten.", "de"),
        ("Who are the partners?", "please delete my data", "en"),
    ],
)
def test_delete_my_data_asks_then_removes_the_stored_conversation(
    bot, domain, question, request_text, language
):
    user = sender()
    bot.rest(user, question)
    assert stored_events(bot, user) > 0
    # Asked first, with buttons; nothing is deleted yet.
    answer = bot.rest(user, request_text)
    assert answer[0]["text"] == text_of(domain, "utter_confirm_delete", language)
    yes = answer[0]["buttons"][0]
    assert yes["title"].startswith("Yes" if language == "en" else "Ja")
    before = stored_events(bot, user)
    assert before > 0
    answer = bot.rest(user, yes["payload"])
    assert answer[0]["text"] == text_of(domain, "utter_data_deleted", language)
    # The web chat widget learns that it should forget its copy too.
    assert {"conversation_deleted": True} in [a.get("custom") for a in answer]
    assert stored_events(bot, user) == 0
    # The next message starts a new conversation that works as before.
    assert bot.rest(user, question)[0]["text"] == text_of(
        domain, "utter_partners", language
    )


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("What do you do with my data?", "en"),
        ("Werden meine Nachrichten hier gespeichert?", "de"),
    ],
)
def test_a_question_about_data_is_answered_and_deletes_nothing(
    bot, domain, question, language
):
    """Issue 15: a question like "what do you do with my data?" could delete."""
    user = sender()
    bot.rest(
        user, "Wer sind die Partner?" if language == "de" else "Who are the partners?"
    )
    before = stored_events(bot, user)
    answer = bot.rest(user, question)
    assert answer[0]["text"] == text_of(domain, "utter_privacy", language)
    assert stored_events(bot, user) > before


def test_a_confirmation_out_of_context_asks_first(bot, domain):
    user = sender()
    bot.rest(user, "Who are the partners?")
    before = stored_events(bot, user)
    answer = bot.rest(user, "/confirm_delete")
    assert answer[0]["text"] == text_of(domain, "utter_confirm_delete", "en")
    assert stored_events(bot, user) > before


# ------------------------------------------------ doors of the servers (issue 15)


def test_browsers_may_call_only_from_allowed_origins(bot):
    """CORS was "*": any web site could call the servers from its visitors'
    browsers. By default only the server's own origin may (OFR_CORS_ORIGINS)."""
    import requests

    url = f"{bot.url}/webhooks/rest/webhook"
    preflight = {"Access-Control-Request-Method": "POST"}
    own = f"http://localhost:{bot.rasa_port}"
    allowed = requests.options(url, headers={**preflight, "Origin": own}, timeout=10)
    assert allowed.headers.get("Access-Control-Allow-Origin") == own
    foreign = requests.options(
        url, headers={**preflight, "Origin": "https://evil.example"}, timeout=10
    )
    assert "Access-Control-Allow-Origin" not in foreign.headers


def outward_address() -> str:
    """An address of this machine that is not loopback."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent for UDP connect
        return probe.getsockname()[0]


def test_the_action_server_listens_on_loopback_with_a_small_body_limit(bot):
    """The action server listened on all interfaces, unauthenticated, with Sanic's
    100 MB body limit."""
    import socket

    address = outward_address()
    if address.startswith("127."):
        pytest.skip("this machine has no address but loopback")
    with pytest.raises(OSError):
        socket.create_connection((address, bot.action_port), timeout=5).close()
    # A 3 MiB body is refused as soon as its length is announced (with Sanic's
    # 100 MB limit the server would wait for the body). rasa_sdk turns Sanic's
    # "payload too large" into a 500 with the reason in the body.
    with socket.create_connection(("127.0.0.1", bot.action_port), timeout=10) as sock:
        sock.sendall(
            b"POST /webhook HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: 3145728\r\n\r\n"
        )
        reply = sock.recv(2000)
    assert reply.startswith((b"HTTP/1.1 413", b"HTTP/1.1 500")), reply
    assert b"exceeds the size limit" in reply, reply


def test_the_rasa_server_listens_on_loopback_by_default(bot):
    """Issue 29: make run served REST on every interface, without a token."""
    import socket

    address = outward_address()
    if address.startswith("127."):
        pytest.skip("this machine has no address but loopback")
    with pytest.raises(OSError):
        socket.create_connection((address, bot.rasa_port), timeout=5).close()
    socket.create_connection(("127.0.0.1", bot.rasa_port), timeout=5).close()


def test_make_run_refuses_rest_on_the_network_without_a_token(tmp_path):
    """One sentence says how to fix it, and no server starts."""
    import os

    from tests.servers import free_port, start_script

    environment = {
        **os.environ,
        "RASA_PORT": str(free_port()),
        "ACTION_PORT": str(free_port()),
        "OFR_STAFF_ADDR": f"127.0.0.1:{free_port()}",
        "OFR_VAR_DIR": str(tmp_path),
        "OFR_RASA_ADDR": "0.0.0.0",
        "OFR_REST_TOKEN": "",
    }
    import signal
    import subprocess

    process = start_script("scripts/run.sh", environment)
    try:
        output, _ = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # it started: no server may outlive us
        process.communicate()
        raise
    assert process.returncode != 0
    assert "OFR_RASA_ADDR=0.0.0.0 would open REST to the network" in output
    assert "set OFR_REST_TOKEN" in output
    assert "is running" not in output


def test_the_channel_of_a_rest_message_is_rest_whatever_the_body_says(bot):
    """Issue 29: ``input_channel`` from the body was trusted, and actions branch on
    the channel (handover, Telegram's calendar files)."""
    import json

    import requests

    user = sender()
    response = requests.post(
        f"{bot.url}/webhooks/rest/webhook",
        json={
            "sender": user,
            "message": "Who are the partners?",
            "input_channel": "telegram",
        },
        timeout=60,
    )
    assert response.status_code == 200 and response.json()
    with sqlite3.connect(bot.var_dir / "tracker.db") as db:
        rows = db.execute(
            "select data from events where sender_id = ? and type_name = 'user'",
            (f"rest:{user}",),
        ).fetchall()
    assert rows
    assert {json.loads(data).get("input_channel") for (data,) in rows} == {"rest"}


def test_each_process_holds_only_its_own_secrets(bot):
    """Issue 29: the admin and Telegram tokens were in the action server's
    environment. Read from /proc/<pid>/environ of the running processes."""
    from pathlib import Path

    from ofr_tools.processes import children, command_line

    def environment(pid: int) -> dict:
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        return dict(item.decode().split("=", 1) for item in raw if b"=" in item)

    def started(pattern: str) -> int:
        assert bot.process is not None
        [pid] = [
            pid for pid in children(bot.process.pid) if pattern in command_line(pid)
        ]
        return pid

    actions = environment(started("-m rasa_sdk --actions actions"))
    console = environment(started("-m console.serve"))
    rasa = environment(bot.rasa_pid())
    for name in ("OFR_ADMIN_TOKEN", "OFR_SMTP_URL", "TELEGRAM_WEBHOOK_SECRET"):
        assert name in rasa, name
        assert name not in actions, name
    assert actions["OFR_ANSWERS_BY_EMAIL"] == "1"  # told, instead of the mail URL
    assert console["OFR_ADMIN_TOKEN"] == SECRETS["OFR_ADMIN_TOKEN"]  # to publish
    assert "OFR_SMTP_URL" not in console and "TELEGRAM_WEBHOOK_SECRET" not in console


def test_the_training_worker_starts_when_staff_log_in_not_before(bot):
    """Issue 32: the console's training worker (about 700 MB, Rasa loaded) ran from
    every start; now the first staff login starts it."""
    import os
    import re
    import subprocess
    import sys

    import requests

    from ofr_tools.processes import command_line, descendants

    assert bot.process is not None

    def workers() -> list:
        return [
            pid
            for pid in descendants(bot.process.pid)
            if "console.model_job" in command_line(pid)
        ]

    assert workers() == []
    password = "a long staff password 42"
    secret = bot.var_dir / "worker-password.txt"
    secret.write_text(password + "\n", encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "console.staff_user", "wanda", "editor"]
        + ["--password-file", str(secret)],
        env={**os.environ, "OFR_VAR_DIR": str(bot.var_dir)},
        check=True,
        capture_output=True,
    )
    session = requests.Session()
    page = session.get(f"{bot.staff_url}/login", timeout=30).text
    token = re.search(r'name="login_csrf" value="([^"]+)"', page)
    assert token is not None
    assert workers() == []  # the login form alone starts nothing
    answer = session.post(
        f"{bot.staff_url}/login",
        data={"name": "wanda", "password": password, "login_csrf": token.group(1)},
        timeout=30,
    )
    assert answer.status_code == 200 and "/login" not in answer.url
    assert len(workers()) == 1


def stored_message_ids(bot: Servers, user: str) -> list:
    """The ids of the conversation's stored user messages, in order."""
    import json

    with sqlite3.connect(bot.var_dir / "tracker.db") as db:
        rows = db.execute(
            "select data from events where sender_id = ? and type_name = 'user'"
            " order by id",
            (f"rest:{user}",),
        ).fetchall()
    return [json.loads(data).get("message_id") for (data,) in rows]


def test_a_message_sent_again_with_its_id_is_answered_once(bot, domain):
    """Issue 32: after nginx's 503 the client sends the message again with the same
    message_id; a turn already stored is answered from the store, not run again.
    "who are IOM and GIZ?" is two turns: both are answered again, neither runs."""
    import requests

    user = sender()
    url = f"{bot.url}/webhooks/rest/webhook"
    body = {
        "sender": user,
        "message": "who are IOM and GIZ?",
        "message_id": "q-1",
        "metadata": {"language": "en"},
    }
    first = requests.post(url, json=body, timeout=60).json()
    assert first[0]["text"] == text_of(domain, "utter_iom", "en")
    assert text_of(domain, "utter_giz", "en") in [m["text"] for m in first]
    events = stored_events(bot, user)
    again = requests.post(url, json=body, timeout=60).json()
    assert again == first
    assert stored_events(bot, user) == events  # nothing ran, nothing was stored
    assert stored_message_ids(bot, user) == ["q-1", "q-1#2"]
    # Streamed answers too; another id is another message.
    streamed = {"sender": user, "message": "BAMF?", "message_id": "q-2"}
    lines = [
        requests.post(url + "?stream=true", json=streamed, timeout=60).text
        for _ in range(2)
    ]
    assert lines[0] == lines[1] and "Bundesamt" in lines[0]
    assert stored_message_ids(bot, user) == ["q-1", "q-1#2", "q-2"]
    bad = requests.post(url, json={**body, "message_id": "a b"}, timeout=60)
    assert bad.status_code == 422 and "message_id" in bad.json()["error"]
