"""Start ``rasa run`` with its API token from the environment, not the command line.

    RASA_AUTH_TOKEN=… ofr_tools/rasa_serve.py run --model … --enable-api

Rasa reads its HTTP API token only from ``--auth-token``, and a command line is
visible to every user of the machine (``ps``). This starts Rasa's own command-line
entry point in this process with the token added to its arguments here, so the
process list shows the command without it. The settings are checked first: a bad
value stops the start with one sentence per problem (ofr/settings.py).

The server listens on ``OFR_RASA_ADDR`` (default 127.0.0.1, this machine only) unless
``--interface`` names an address; Rasa's own default would be every interface. On an
address other machines reach it starts only with ``OFR_REST_TOKEN`` set.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

from bot import rasa_patches
from ofr import settings

INTERFACE_OPTIONS = ("--interface", "-i")


def listen_address(arguments: List[str]) -> Optional[str]:
    """The address ``rasa run`` was told to listen on, or None."""
    for index, argument in enumerate(arguments):
        if argument in INTERFACE_OPTIONS and index + 1 < len(arguments):
            return arguments[index + 1]
        for option in INTERFACE_OPTIONS:
            if argument.startswith(option + "="):
                return argument.split("=", 1)[1]
    return None


def serve_arguments(arguments: List[str], configured: settings.Settings) -> List[str]:
    """Rasa's arguments with the listen address made explicit (OFR_RASA_ADDR when
    none was given); SettingsError when REST would be open to the network."""
    if not arguments or arguments[0] != "run" or arguments[1:2] == ["actions"]:
        return arguments
    address = listen_address(arguments)
    if address is None:
        address = configured.rasa_addr
        arguments = [*arguments, "--interface", address]
    problems = settings.exposure_problems(configured, address)
    if problems:
        raise settings.SettingsError(problems)
    return arguments


def main() -> None:
    try:
        arguments = serve_arguments(sys.argv[1:], settings.current())
    except settings.SettingsError as error:
        print(error, file=sys.stderr)
        sys.exit(2)
    # The rewrite of sys.argv below relies on Rasa's command line as it was written
    # for (bot/rasa_patches, "rasa_serve"); the server checks the rest at start.
    try:
        rasa_patches.check(["rasa_serve"])
    except rasa_patches.PatchVersionError as error:
        print(error, file=sys.stderr)
        sys.exit(2)
    from rasa.__main__ import main as rasa_main

    token = os.environ.pop("RASA_AUTH_TOKEN", "")
    sys.argv = ["rasa", *arguments]
    if token:
        sys.argv += ["--auth-token", token]
    rasa_main()


if __name__ == "__main__":
    main()
