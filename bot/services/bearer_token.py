"""``Authorization: Bearer <token>`` checks shared by the routes that need a token."""

from __future__ import annotations

import hmac

from sanic.request import Request


def bearer_token_ok(request: Request, token: str) -> bool:
    """True when the request carries ``token`` (compared in constant time)."""
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(errors="surrogateescape"), token.encode()
    )
