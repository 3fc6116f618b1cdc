"""Run the staff console: ``python -m console.serve`` (started by ``make run``).

Listens on ``OFR_STAFF_ADDR`` (default 127.0.0.1:5080: this machine only; put it
behind a TLS proxy to reach it from elsewhere, which also makes its cookies Secure).
The client's address (which the login delays count per name and address) is the
peer's, or, for requests from the proxy named by ``OFR_TRUSTED_PROXY``, the last
address of its ``X-Forwarded-For``; waitress drops ``X-Forwarded-*`` headers from
any other peer.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Dict, Sequence

from ofr import settings

# What waitress may take from the trusted proxy: the client's address, and https.
PROXY_HEADERS = {"x-forwarded-for", "x-forwarded-proto"}


def server_options(trusted_proxies: Sequence[str]) -> Dict[str, Any]:
    """waitress settings for the proxy in front of the console (none: the peer's
    address counts, and every X-Forwarded-* header is dropped).

    waitress trusts one proxy address; of several in ``OFR_TRUSTED_PROXY`` (the Rasa
    servers may have more than one), the console trusts the first."""
    if not trusted_proxies:
        return {"clear_untrusted_proxy_headers": True}
    return {
        "trusted_proxy": trusted_proxies[0],
        "trusted_proxy_count": 1,
        "trusted_proxy_headers": set(PROXY_HEADERS),
        "clear_untrusted_proxy_headers": True,
    }


def main() -> int:
    try:
        configured = settings.current()
    except settings.SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    from waitress import serve

    from console.app import ConsoleConfig, create_app

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s"
    )
    host, port = configured.staff_addr
    app = create_app(ConsoleConfig.from_settings())
    print(f"Staff console on http://{host}:{port}/", flush=True)
    proxy = server_options(configured.trusted_proxies)
    if configured.trusted_proxies:
        print(
            f"Client addresses from {proxy['trusted_proxy']}'s X-Forwarded-For.",
            flush=True,
        )
    serve(app, host=host, port=port, threads=4, ident="ofr-console", **proxy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
