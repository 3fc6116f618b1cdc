"""Creating the bot's own tables when several instances start at once.

``create_all`` checks which tables exist and then creates the others; two instances
starting together on a new PostgreSQL database can both see a table missing, and the
second CREATE fails ("already exists", or a duplicate key in pg_type). Trying again
then finds the table and creates nothing. A column added to a table later is added
to a table made before (``add_missing_columns``), the same way.
"""

from __future__ import annotations

import time
from typing import Any, Optional, Sequence

from sqlalchemy import MetaData, Table, inspect
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


def add_missing_columns(engine: Any, table: Table) -> None:
    """Add the nullable columns ``table`` has and its stored copy lacks (a database
    made by an older version); an instance that adds one at the same moment wins,
    and this one finds it there."""
    for attempt in range(ATTEMPTS):
        stored = {c["name"] for c in inspect(engine).get_columns(table.name)}
        missing = [c for c in table.columns if c.name not in stored]
        if not missing:
            return
        try:
            with engine.begin() as connection:
                for column in missing:
                    if not column.nullable:
                        raise ValueError(
                            f"{table.name}.{column.name} must be nullable to be added "
                            "to a table made before it."
                        )
                    kind = column.type.compile(dialect=engine.dialect)
                    connection.exec_driver_sql(
                        f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'
                    )
            return
        except DBAPIError:
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))  # the other instance added it
