"""Creating the bot's own tables when several instances start at once.

``create_all`` checks which tables exist and then creates the others; two instances
starting together on a new PostgreSQL database can both see a table missing, and the
second CREATE fails ("already exists", or a duplicate key in pg_type). Trying again
then finds the table and creates nothing.
"""

from __future__ import annotations

import time
from typing import Any, Optional, Sequence

from sqlalchemy import MetaData, Table
from sqlalchemy.exc import DBAPIError

ATTEMPTS = 5


def create_tables(
    metadata: MetaData, engine: Any, tables: Optional[Sequence[Table]] = None
) -> None:
    for attempt in range(ATTEMPTS):
        try:
            metadata.create_all(engine, tables=tables)
            return
        except DBAPIError:
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))  # the other instance finishes its CREATE
