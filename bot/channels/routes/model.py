"""Switch the running server to a newly trained model without a restart.

Rasa's own ``PUT /model`` loads the new model inside the event loop, so every chat
waits until loading is done. This route loads it in a worker thread while the old
model keeps answering, then swaps the agent in one step. The tracker store and the
lock store are shared, so conversations go on where they were.

    PUT /webhooks/model/publish   {"model_file": "/abs/path/ofr.tar.gz"}
    Authorization: Bearer $OFR_ADMIN_TOKEN          → 202, loading starts
    GET /webhooks/model/  (same token)              → model in use, last publication

Without ``OFR_ADMIN_TOKEN`` in the environment both routes answer 503: publishing
is off. ``make publish`` calls it (ofr_tools/publish.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.routes.no_chat import NoChatChannel
from bot.services import long_lived_heap
from bot.services.bearer_token import bearer_token_ok
from ofr import settings

logger = logging.getLogger(__name__)

TOKEN_VARIABLE = "OFR_ADMIN_TOKEN"


def _refused(request: Request) -> Optional[HTTPResponse]:
    """None for a request with the admin token, else the answer that refuses it."""
    token = settings.current().admin_token
    if not token:
        return response.json(
            {"error": f"publishing is off: set {TOKEN_VARIABLE}"}, status=503
        )
    if not bearer_token_ok(request, token):
        return response.json({"error": "wrong or missing token"}, status=401)
    return None


def _load(current: Agent, model_file: Path) -> Agent:
    """A new agent on the same stores and action server, with the new model."""
    # Rasa sets the store's domain to the new agent's: give it the current domain
    # until the new model is in, or the old agent loses its slots while loading.
    store = getattr(current.tracker_store, "_tracker_store", current.tracker_store)
    agent = Agent(
        domain=current.domain,
        tracker_store=store,
        lock_store=current.lock_store,
        action_endpoint=current.action_endpoint,
        http_interpreter=current.http_interpreter,
    )
    agent.load_model(model_file)
    return agent


class ModelChannel(NoChatChannel):
    """Not a chat channel: the publish route for new models.

    Loading takes longer than an HTTP request may last, so ``PUT`` starts it and
    answers 202; ``GET /webhooks/model/`` reports the model in use and how the last
    publication went (``loading``, ``done`` or ``failed``).
    """

    channel_name = "model"

    def __init__(self) -> None:
        self._task: Optional[asyncio.Task] = None
        self._last: Dict[str, Any] = {}

    async def _publish(self, app: Any, model_file: Path) -> None:
        started = time.monotonic()
        self._last = {"model_file": model_file.name, "state": "loading"}
        try:
            loaded = await asyncio.get_running_loop().run_in_executor(
                None, _load, app.ctx.agent, model_file
            )
        except Exception as error:  # any failure keeps the old model
            logger.error("Publishing %s failed: %s", model_file.name, error)
            self._last.update(state="failed", error=str(error))
            return
        app.ctx.agent = loaded
        long_lived_heap.refreeze()
        seconds = round(time.monotonic() - started, 1)
        logger.info("Published model %s in %s s.", loaded.model_name, seconds)
        self._last.update(state="done", seconds=seconds, model_id=loaded.model_id)

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        model = Blueprint("model_webhook", __name__)

        @model.listener("after_server_start")
        async def started(app: Any, _: Any) -> None:
            # Rasa loaded the model before the server started: freeze what it holds.
            long_lived_heap.freeze()

        @model.route("/", methods=["GET"])
        async def status(request: Request) -> HTTPResponse:
            # The last publish error may name files and paths: admins only.
            refused = _refused(request)
            if refused is not None:
                return refused
            agent = request.app.ctx.agent
            return response.json(
                {
                    "model": agent.model_name,
                    "model_id": agent.model_id,
                    "publishing": self._last or None,
                }
            )

        @model.route("/publish", methods=["PUT"])
        async def publish(request: Request) -> HTTPResponse:
            refused = _refused(request)
            if refused is not None:
                return refused
            body = request.json if isinstance(request.json, dict) else {}
            model_file = body.get("model_file")
            if not isinstance(model_file, str) or not Path(model_file).is_file():
                return response.json(
                    {"error": "model_file must be the path of a trained model"},
                    status=400,
                )
            if self._task is not None and not self._task.done():
                return response.json(
                    {"error": "another model is being published"}, status=409
                )
            self._task = asyncio.create_task(
                self._publish(request.app, Path(model_file))
            )
            return response.json(
                {"state": "loading", "model_file": Path(model_file).name}, status=202
            )

        return model
