"""Create a staff console account, or give one a new role or password:
`make staff-user NAME=<name> ROLE=editor|publisher` runs this.

    python -m console.staff_user NAME ROLE [--password-file PATH]

Asks for the password twice (at least 12 characters), or reads it from the first
line of PASSWORD_FILE for automation. Editors change training data, answers and
events; publishers may also publish a new model. A new password ends the account's
open sessions.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import List, Optional

from console.accounts import ROLES, AccountError, Accounts
from ofr import settings


def read_password(path: Optional[Path]) -> str:
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError):
            raise AccountError(
                f"{path} cannot be read or is empty: write the password on its first line."
            ) from None
    if not sys.stdin.isatty():
        raise AccountError(
            "No terminal to ask for the password: give PASSWORD_FILE=<path> instead."
        )
    first = getpass.getpass("Password (at least 12 characters): ")
    if getpass.getpass("The same again: ") != first:
        raise AccountError("The two passwords differ: run it again.")
    return first


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--password-file", type=Path)
    args = parser.parse_args(argv)
    try:
        password = read_password(args.password_file)
        accounts = Accounts(settings.current().var_dir / "staff.db")
        new = accounts.set_user(args.name, args.role, password)
    except (AccountError, settings.SettingsError) as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{'Created' if new else 'Updated'} {args.name} ({args.role}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
