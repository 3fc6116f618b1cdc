"""Small checks for the start scripts (scripts/lib.sh, for run.sh and run-cluster.sh).

    .venv/bin/python -m ofr_tools.launch port-free PORT
    .venv/bin/python -m ofr_tools.launch answers URL [--timeout SECONDS]
    .venv/bin/python -m ofr_tools.launch token-file FILE
    .venv/bin/python -m ofr_tools.launch exec-as PROCESS COMMAND...

The scripts run these before and while the servers start, often once a second: they
import only the standard library, and they answer with their exit code (0: yes), so
a shell ``if`` can use them directly. ``exec-as`` (once per server start) replaces
itself with COMMAND, in the environment PROCESS may have
(``ofr.process_environment``): the same process id, without the secrets it does not
need.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import socket
import sys
import urllib.request


def port_free(port: str) -> int:
    """0 when this process could listen on ``port`` of 127.0.0.1, 1 when it could
    not, 2 when ``port`` is no port number (the scripts then name their setting).

    Binding (not connecting) is the test: it also sees a port that a server holds
    without answering yet. SO_REUSEADDR lets a port whose last connections are still
    in TIME_WAIT count as free, as it does for the servers themselves.
    """
    try:
        number = int(port)
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", number))
    except (ValueError, OverflowError):
        print(
            f"{port!r} is not a port number: use one from 1 to 65535.", file=sys.stderr
        )
        return 2
    except OSError:
        return 1
    return 0


def answers(url: str, timeout: float) -> int:
    """0 when ``url`` answers with a 2xx status within ``timeout`` seconds, else 1.

    Any failure (refused, timed out, an error status) just means "not yet": the
    scripts ask again or give up with their own message.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return 0
    except (OSError, ValueError, http.client.HTTPException):
        return 1


def token_file(path: str) -> int:
    """Print the token kept in ``path`` (OFR_ADMIN_TOKEN, OFR_REST_TOKEN), made first
    if the file is missing or empty.

    The file is readable and writable by this user only (0600): created so, and
    tightened if it was made wider (an old ``make run``, a copy, a umask of 022), so
    no other user of the machine can read the admin or REST token."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        print(f"Cannot open the token file {path}: {error.strerror}.", file=sys.stderr)
        return 1
    with os.fdopen(descriptor, "r+", encoding="utf-8") as file:
        os.fchmod(descriptor, 0o600)
        token = file.read().strip()
        if not token:
            token = secrets.token_urlsafe(32)
            file.seek(0)
            file.truncate()
            file.write(token + "\n")
    print(token)
    return 0


def exec_as(process: str, command: list[str]) -> int:
    """Run ``command`` in place of this process with ``process``'s environment."""
    from ofr.process_environment import environment_for

    if not command:
        print("exec-as needs a command to run.", file=sys.stderr)
        return 2
    os.execvpe(command[0], command, environment_for(process, os.environ))
    return 1  # not reached: exec replaces this process or raises


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ofr_tools.launch", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    free = commands.add_parser("port-free", help="exit 0 when PORT is free")
    free.add_argument("port")
    answer = commands.add_parser("answers", help="exit 0 when URL answers 2xx")
    answer.add_argument("url")
    answer.add_argument("--timeout", type=float, default=2.0)
    keep = commands.add_parser(
        "token-file", help="print the token in FILE (0600), made first if missing"
    )
    keep.add_argument("file")
    run_as = commands.add_parser(
        "exec-as", help="run COMMAND with only the secrets PROCESS needs"
    )
    run_as.add_argument("process", choices=["rasa", "console", "actions", "training"])
    run_as.add_argument("program", nargs=argparse.REMAINDER, metavar="COMMAND")
    args = parser.parse_args(argv)
    if args.command == "exec-as":
        sys.exit(exec_as(args.process, args.program))
    if args.command == "port-free":
        sys.exit(port_free(args.port))
    if args.command == "answers":
        sys.exit(answers(args.url, args.timeout))
    sys.exit(token_file(args.file))


if __name__ == "__main__":
    main()
