"""Check the events file staff edit: `make validate` runs this.

Prints one line per problem (file, entry, field, what to do) and exits 1 when the
file cannot be used, 0 when it is fine.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from ofr import settings
from ofr.events.model import EventsFileError, parse_events
from ofr.events.search import upcoming


def main() -> int:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else settings.current().events_file)
    try:
        events = parse_events(path)
    except EventsFileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    coming = upcoming(events, datetime.now(timezone.utc))
    print(f"{path}: {len(events)} events are valid, {len(coming)} of them upcoming.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
