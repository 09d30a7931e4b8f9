"""``convos-gateway reindex``: rebuild the search index file from the database.

Run it with the gateway stopped (or with SEARCH_INDEX_PATH naming a new file):
two processes must not write one SQLite file. The next start resumes the
change feed from the moment the rebuild began.
"""

from __future__ import annotations

import time

from app.settings import Settings
from storage.change_feed import record_position
from storage.database import connect
from storage.search_index import SearchIndex


async def reindex(settings: Settings) -> tuple[int, float]:
    """Rebuild; return the number of messages indexed and the seconds it took."""
    assert settings.mongo_uri is not None
    database = connect(
        settings.mongo_uri, default_db=settings.mongo_db_name, timeout_ms=settings.mongo_timeout_ms
    )
    index = SearchIndex(settings.search_index_file)
    started = time.monotonic()
    try:
        await record_position(database, index.checkpoint, settings.change_feed)
        await index.rebuild(database)
    finally:
        index.close()
        await database.close()
    return index.rows_indexed, time.monotonic() - started
