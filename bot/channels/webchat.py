"""Serve the chat widget and its demo page from the Rasa server.

Registered in credentials.yml like a channel, which gives it routes on the bot's
own server: ``/webhooks/webchat/`` (demo page), ``/webhooks/webchat/ofr-chat.js``
and ``.css``, and ``/webhooks/webchat/vendor/socket.io.min.js`` (installed from npm
by ``make install``). The widget talks to Rasa's socket.io channel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.routes.no_chat import NoChatChannel

ROOT = Path(__file__).resolve().parents[2]
FILES = {
    "": (ROOT / "web" / "index.html", "text/html; charset=utf-8"),
    "ofr-chat.js": (
        ROOT / "web" / "ofr-chat.js",
        "application/javascript; charset=utf-8",
    ),
    "ofr-chat.css": (ROOT / "web" / "ofr-chat.css", "text/css; charset=utf-8"),
    "vendor/socket.io.min.js": (
        ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js",
        "application/javascript; charset=utf-8",
    ),
}


class WebchatChannel(NoChatChannel):
    """Not a chat channel itself: serves the widget for the socket.io channel."""

    channel_name = "webchat"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        webchat = Blueprint("webchat_assets", __name__)

        async def serve(name: str) -> HTTPResponse:
            path, content_type = FILES[name]
            if not path.is_file():
                return response.text(
                    f"{path.name} is missing: run `make install` (npm install).",
                    status=404,
                )
            return response.raw(
                path.read_bytes(),
                content_type=content_type,
                headers={"Cache-Control": "no-cache"},
            )

        @webchat.route("/", methods=["GET"], strict_slashes=False)
        async def page(_: Request) -> HTTPResponse:
            return await serve("")

        @webchat.route("/<name:path>", methods=["GET"])
        async def asset(_: Request, name: str) -> HTTPResponse:
            name = name.strip("/")
            if name not in FILES:
                return response.text("not found", status=404)
            return await serve(name)

        return webchat
