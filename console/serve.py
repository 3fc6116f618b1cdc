"""Run the staff console: ``python -m console.serve`` (started by ``make run``).

Listens on ``OFR_STAFF_ADDR`` (default 127.0.0.1:5080: this machine only; put it
behind a TLS proxy to reach it from elsewhere, which also makes its cookies Secure).
"""

from __future__ import annotations

import logging
import sys

from ofr import settings


def main() -> int:
    try:
        configured = settings.current()
    except settings.SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    from waitress import serve

    from console.app import ConsoleConfig, create_app
    from console.services import KEY

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s"
    )
    host, port = configured.staff_addr
    app = create_app(ConsoleConfig.from_settings())
    # The training worker gets ready and scores the model in use now, so that the
    # first "Train" after a change starts at once (it ends after 30 idle minutes).
    app.extensions[KEY].pipeline.warm()
    print(f"Staff console on http://{host}:{port}/", flush=True)
    serve(app, host=host, port=port, threads=4, ident="ofr-console")
    return 0


if __name__ == "__main__":
    sys.exit(main())
