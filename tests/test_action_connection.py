"""bot/rasa_patches/action_connection.py: custom-action calls reuse one open connection."""

from __future__ import annotations

from aiohttp import web
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_patches.action_connection import keep_alive


async def test_calls_share_one_connection():
    peers = []

    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        url = f"http://127.0.0.1:{port}/webhook"
        plain, kept = EndpointConfig(url), keep_alive(EndpointConfig(url))
        for endpoint in (plain, plain, kept, kept, kept):
            assert await endpoint.request(json={"next_action": "x"}) == {
                "events": [],
                "responses": [],
            }
        # Rasa's own endpoint connects anew each time; the kept-alive one once.
        assert peers[0] != peers[1]
        assert peers[2] == peers[3] == peers[4] not in peers[:2]
        assert keep_alive(kept) is kept
        # A closed session (e.g. at shutdown) is replaced, not reused.
        async with kept.session() as session:
            await session.close()
        await kept.request(json={})
        assert peers[5] != peers[4]
    finally:
        async with kept.session() as session:
            await session.close()
        await runner.cleanup()
