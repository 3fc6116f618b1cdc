"""The compiled validator accepts and rejects exactly what Rasa's own check does."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

from bot.rasa_patches.action_response_check import validate_action_result

SPEC = RemoteAction.action_response_format_spec()
GOOD = [
    {"events": [], "responses": []},
    {
        "events": [{"event": "slot", "name": "language", "value": "en"}],
        "responses": [{"text": "Hi", "buttons": [{"title": "a", "payload": "/x"}]}],
    },
    {},
]
BAD = [
    {"events": "not a list"},
    {"events": [{"event": "no_such_event"}]},
    {"responses": [{"buttons": "x"}], "events": [{"name": "x"}]},
]


@pytest.mark.parametrize("reply", GOOD)
def test_valid_replies_pass(reply):
    validate(reply, SPEC)
    assert validate_action_result(None, reply) is True


@pytest.mark.parametrize("reply", BAD)
def test_invalid_replies_fail_like_rasa(reply):
    with pytest.raises(ValidationError):
        validate(reply, SPEC)
    with pytest.raises(ValidationError, match="Failed to validate Action server"):
        validate_action_result(None, reply)


def test_installed_on_rasas_remote_action():
    import bot.channels  # noqa: F401  (installs the patches on import)

    assert RemoteAction._validate_action_result is validate_action_result
