"""Where an index lives: a folder of generations, or a PostgreSQL database (a DSN).

Every entry point (CLI, eval, API, app) takes the same `--index` / $KOMMUNESOEG_INDEX, so
they share these two rules: how the text names a store (`index_location`; a DSN must stay
the string it is - a Path would fold its '//') and what its current generation is
(`index_generation`), which an app polls to load a newly indexed meeting without a restart.
"""

from __future__ import annotations

from pathlib import Path

from indexer.pg.connect import is_dsn
from indexer.store import current_generation

IndexLocation = Path | str  # a folder, or a postgresql:// DSN


def index_location(value: str | Path) -> IndexLocation:
    """A DSN as the string it is, anything else as a Path."""
    return str(value) if is_dsn(str(value)) else Path(value)


def index_generation(index: IndexLocation) -> str | None:
    """The generation a Searcher opened now would load; None when there is no index yet.

    A folder: the name of the generation `current` points to (one readlink). A database:
    its change counter (`indexer.pg.queue.store_generation`, one short query); a
    database that cannot be reached raises PgUnavailable, one line naming it."""
    if is_dsn(str(index)):
        from indexer.pg.connect import connect
        from indexer.pg.queue import store_generation
        from indexer.pg.schema import current_version

        conn = connect(str(index), autocommit=True)
        try:
            if current_version(conn) == 0:
                return None
            return store_generation(conn)
        finally:
            conn.close()
    gen = current_generation(Path(index))
    return gen.name if gen is not None else None
