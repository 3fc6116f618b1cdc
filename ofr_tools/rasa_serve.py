"""Start ``rasa run`` with its API token from the environment, not the command line.

    RASA_AUTH_TOKEN=… ofr_tools/rasa_serve.py run --model … --enable-api

Rasa reads its HTTP API token only from ``--auth-token``, and a command line is
visible to every user of the machine (``ps``). This starts Rasa's own command-line
entry point in this process with the token added to its arguments here, so the
process list shows the command without it. The settings are checked first: a bad
value stops the start with one sentence per problem (ofr/settings.py).
"""

from __future__ import annotations

import os
import sys

from ofr import settings


def main() -> None:
    try:
        settings.current()
    except settings.SettingsError as error:
        print(error, file=sys.stderr)
        sys.exit(2)
    from rasa.__main__ import main as rasa_main

    token = os.environ.pop("RASA_AUTH_TOKEN", "")
    sys.argv = ["rasa", *sys.argv[1:]]
    if token:
        sys.argv += ["--auth-token", token]
    rasa_main()


if __name__ == "__main__":
    main()
