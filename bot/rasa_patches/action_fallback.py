"""Never silence when the action server is down or slow.

Rasa 3.6 waits up to five minutes for a custom action and, when it fails, logs the
error and says nothing to the user. Here the wait is ``OFR_ACTION_TIMEOUT`` seconds
(default 10) and a failed custom action is replaced by the ``action_unavailable`` text
of ofr/messages.yml in the conversation's language. ``action_session_start`` falls back to Rasa's own
session start so that the conversation still gets its session. Installed when
Rasa imports any ``bot`` module (the channels in credentials.yml, the NLU
components in config.yml).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, List

import aiohttp
from rasa.core.actions import action as rasa_action
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import Event
from rasa.shared.exceptions import RasaException

from bot.rasa_patches.action_connection import keep_alive
from ofr import settings
from ofr.messages import message

logger = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "action_unavailable"


def timeout_seconds() -> float:
    """OFR_ACTION_TIMEOUT (ofr/settings.py)."""
    return settings.current().action_timeout_seconds


async def _run_or_apologise(
    self: rasa_action.RemoteAction,
    output_channel: Any,
    nlg: Any,
    tracker: Any,
    domain: Any,
) -> List[Event]:
    if self.action_endpoint is not None:
        keep_alive(self.action_endpoint)
    try:
        return await _original_run(self, output_channel, nlg, tracker, domain)
    except rasa_action.ActionExecutionRejection:
        raise
    except (RasaException, asyncio.TimeoutError, aiohttp.ClientError) as error:
        reason = str(error) or type(error).__name__
        logger.error("Custom action %s failed: %s", self.name(), reason)
        if self.name() == ACTION_SESSION_START_NAME:
            return await rasa_action.ActionSessionStart().run(
                output_channel, nlg, tracker, domain
            )
        language = "en" if tracker.get_slot("language") == "en" else "de"
        draft = {"text": message(UNAVAILABLE_MESSAGE, language)}
        return [rasa_action.create_bot_utterance(draft)]


_original_run = rasa_action.RemoteAction.run


def install() -> None:
    """Patch Rasa's remote action once per process."""
    rasa_action.DEFAULT_REQUEST_TIMEOUT = timeout_seconds()
    if rasa_action.RemoteAction.run is not _run_or_apologise:
        rasa_action.RemoteAction.run = _run_or_apologise
