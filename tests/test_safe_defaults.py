"""Safe defaults of issue 29, without servers: where the Rasa server listens and when
REST needs its token (finding 1), the channel of a REST message (finding 2), and the
secrets each process gets (finding 7). The servers themselves are checked in
tests/test_rest_conversations.py."""

from __future__ import annotations

import json

import pytest

from bot.channels.rest import CHANNEL_NAME, read_message
from ofr import settings
from ofr.process_environment import SECRETS, environment_for
from ofr_tools import check_settings, rasa_serve

# ------------------------------------------- finding 1: REST open to the network


@pytest.mark.parametrize(
    "address", [None, "127.0.0.1", "127.0.0.2", "::1", "localhost"]
)
def test_this_machine_only_needs_no_token(address):
    environ = {} if address is None else {"OFR_RASA_ADDR": address}
    configured = settings.read(environ)
    assert settings.exposure_problems(configured) == []


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.0.2.10", "bot.example.org"])
def test_rest_on_the_network_needs_the_token(address):
    configured = settings.read({"OFR_RASA_ADDR": address})
    [problem] = settings.exposure_problems(configured)
    assert f"OFR_RASA_ADDR={address}" in problem and "set OFR_REST_TOKEN" in problem
    assert problem.count(".") >= 1 and "\n" not in problem  # one sentence
    with_token = settings.read({"OFR_RASA_ADDR": address, "OFR_REST_TOKEN": "t" * 32})
    assert settings.exposure_problems(with_token) == []


def test_make_run_checks_it_before_any_server_starts(monkeypatch, capsys):
    monkeypatch.setenv("OFR_RASA_ADDR", "0.0.0.0")
    monkeypatch.delenv("OFR_REST_TOKEN", raising=False)
    assert check_settings.main() == 2
    assert "set OFR_REST_TOKEN" in capsys.readouterr().err
    monkeypatch.delenv("OFR_RASA_ADDR")
    assert check_settings.main() == 0


def test_the_rasa_server_listens_on_loopback_unless_told_otherwise():
    """Rasa's own default is every interface: the listen address is always given."""
    arguments = rasa_serve.serve_arguments(["run", "--port", "5005"], settings.read({}))
    assert rasa_serve.listen_address(arguments) == "127.0.0.1"
    told = settings.read({"OFR_RASA_ADDR": "10.0.0.7", "OFR_REST_TOKEN": "t" * 32})
    assert rasa_serve.listen_address(rasa_serve.serve_arguments(["run"], told)) == (
        "10.0.0.7"
    )
    with pytest.raises(settings.SettingsError, match="OFR_REST_TOKEN"):
        rasa_serve.serve_arguments(["run", "-i", "0.0.0.0"], settings.read({}))
    with pytest.raises(settings.SettingsError, match="OFR_REST_TOKEN"):
        rasa_serve.serve_arguments(["run", "--interface=0.0.0.0"], settings.read({}))


# ------------------------------------------------ finding 2: the channel's route


@pytest.mark.parametrize("claimed", ["telegram", "socketio", "rest", "x" * 64])
def test_the_channel_comes_from_the_route_not_the_body(claimed):
    body = {"sender": "a", "message": "hi", "input_channel": claimed}
    assert read_message(json.dumps(body).encode()).input_channel == CHANNEL_NAME


def test_an_input_channel_of_any_type_is_ignored():
    body = {"sender": "a", "message": "hi", "input_channel": {"x": 1}}
    assert read_message(json.dumps(body).encode()).input_channel == "rest"


# ------------------------------------------- finding 7: each process, its secrets

EVERYTHING = {
    "PATH": "/usr/bin",
    "OFR_EVENTS_FILE": "data/events.yml",
    "TELEGRAM_TOKEN": "123:telegram-token",
    "TELEGRAM_WEBHOOK_SECRET": "webhook-secret",
    "TELEGRAM_STAFF_CHAT_ID": "-1001",
    "OFR_REST_TOKEN": "rest-token",
    "OFR_ADMIN_TOKEN": "admin-token",
    "RASA_AUTH_TOKEN": "rasa-token",
    "OFR_SMTP_URL": "smtps://ofr:mail-password@mail.example.org",
    "OFR_STAFF_EMAIL": "ofr-staff@example.org",
    "OFR_DB_PASSWORD": "db-password",
    "OFR_REDIS_PASSWORD": "redis-password",
    "OFR_REDIS_URL": "redis://:redis-password@127.0.0.1:6379/1",
}
SECRET_VALUES = [value for name, value in EVERYTHING.items() if name in SECRETS]


def secrets_in(environ: dict) -> set:
    text = "\n".join(f"{k}={v}" for k, v in environ.items())
    return {value for value in SECRET_VALUES if value in text}


def test_the_action_server_gets_no_secret_but_what_it_must_know():
    environ = environment_for("actions", EVERYTHING)
    assert secrets_in(environ) == set()
    assert environ["PATH"] == "/usr/bin"
    assert environ["OFR_EVENTS_FILE"] == "data/events.yml"
    # The handover offer and the e-mail field still appear (actions/handover.py).
    configured = settings.current(environ)
    assert configured.handover_available and configured.answers_by_email
    assert not configured.telegram_token and not configured.smtp_url
    nothing = environment_for("actions", {"PATH": "/usr/bin"})
    assert not settings.current(nothing).handover_available
    assert not settings.current(nothing).answers_by_email


def test_the_training_worker_gets_no_secret():
    environ = environment_for("training", EVERYTHING)
    assert secrets_in(environ) == set()
    settings.current(environ)  # usable settings: no half of a pair left behind


def test_the_consoles_worker_is_started_without_secrets(monkeypatch):
    from console import pipeline

    for name, value in EVERYTHING.items():
        monkeypatch.setenv(name, value)
    assert secrets_in(pipeline._environment()) == set()


def test_the_console_gets_the_admin_token_and_the_stores_only():
    environ = environment_for("console", EVERYTHING)
    assert secrets_in(environ) == {
        "admin-token",
        "db-password",
        "redis-password",
        "redis://:redis-password@127.0.0.1:6379/1",
    }
    settings.current(environ)


def test_the_rasa_server_gets_them_all():
    assert environment_for("rasa", EVERYTHING) == EVERYTHING
