"""Check the settings in the environment before any server starts (make run).

Prints one sentence per value that cannot be used and exits 2, else exits 0
quietly; ofr/settings.py lists every variable, its type and its default. Serving
REST on an address other machines reach without ``OFR_REST_TOKEN`` is one of them
(``settings.exposure_problems``).
"""

from __future__ import annotations

import sys

from ofr import settings


def main() -> int:
    configured = settings.read()
    problems = [*configured.problems, *settings.exposure_problems(configured)]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
