"""Switch the running server to a newly trained model without a restart.

Rasa's own ``PUT /model`` loads the new model inside the event loop, so every chat
waits until loading is done. This route loads it in a worker thread while the old
model keeps answering, then swaps the agent in one step. The tracker store and the
lock store are shared, so conversations go on where they were.

    PUT /webhooks/model/publish   {"model_file": "/abs/path/ofr.tar.gz"}
    Authorization: Bearer $OFR_ADMIN_TOKEN

Without ``OFR_ADMIN_TOKEN`` in the environment the route answers 503: publishing
is off. ``make publish`` calls it (scripts/publish.py).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

TOKEN_VARIABLE = "OFR_ADMIN_TOKEN"


def _authorised(request: Request, token: str) -> bool:
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


def _load(current: Agent, model_file: Path) -> Agent:
    """A new agent on the same stores and action server, with the new model."""
    agent = Agent(
        tracker_store=current.tracker_store,
        lock_store=current.lock_store,
        action_endpoint=current.action_endpoint,
        http_interpreter=current.http_interpreter,
    )
    agent.load_model(model_file)
    return agent


class ModelChannel(InputChannel):
    """Not a chat channel: the publish route for new models."""

    def __init__(self) -> None:
        self._publishing = asyncio.Lock()

    @classmethod
    def name(cls) -> str:
        return "model"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> ModelChannel:
        return cls()

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        model = Blueprint("model_webhook", __name__)

        @model.route("/", methods=["GET"])
        async def status(request: Request) -> HTTPResponse:
            agent = request.app.ctx.agent
            return response.json(
                {"model": agent.model_name, "model_id": agent.model_id}
            )

        @model.route("/publish", methods=["PUT"])
        async def publish(request: Request) -> HTTPResponse:
            token = os.environ.get(TOKEN_VARIABLE, "")
            if not token:
                return response.json(
                    {"error": f"publishing is off: set {TOKEN_VARIABLE}"}, status=503
                )
            if not _authorised(request, token):
                return response.json({"error": "wrong or missing token"}, status=401)
            body = request.json if isinstance(request.json, dict) else {}
            model_file = body.get("model_file")
            if not isinstance(model_file, str) or not Path(model_file).is_file():
                return response.json(
                    {"error": "model_file must be the path of a trained model"},
                    status=400,
                )
            if self._publishing.locked():
                return response.json(
                    {"error": "another model is being published"}, status=409
                )
            async with self._publishing:
                started = time.monotonic()
                current = request.app.ctx.agent
                try:
                    loaded = await asyncio.get_running_loop().run_in_executor(
                        None, _load, current, Path(model_file)
                    )
                except Exception as error:  # any failure keeps the old model
                    logger.error("Publishing %s failed: %s", model_file, error)
                    return response.json(
                        {"error": f"the model could not be loaded: {error}"},
                        status=422,
                    )
                request.app.ctx.agent = loaded
                seconds = round(time.monotonic() - started, 1)
                logger.info("Published model %s in %s s.", loaded.model_name, seconds)
                return response.json(
                    {
                        "model": loaded.model_name,
                        "model_id": loaded.model_id,
                        "seconds": seconds,
                    }
                )

        return model
