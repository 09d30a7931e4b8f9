"""Which database a CLI command works on: MONGO_URI, or the embedded one.

Shared by ``serve``, ``import``, ``export``, ``demo`` and ``reindex`` (one
module, so the commands' own modules do not import app/cli.py back).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import replace

from app.settings import Settings

log = logging.getLogger("convos_gateway")


def _redact(uri: str) -> str:
    return re.sub(r"//([^:/@]+):([^@]+)@", r"//\1:***@", uri)


@contextlib.contextmanager
def database_settings(settings: Settings) -> Iterator[Settings]:
    """``settings`` with a ``mongo_uri``: MONGO_URI, else the embedded database
    started on ``data_dir/db`` for as long as the block runs."""
    if settings.mongo_uri is not None:
        log.info("database: MongoDB at %s", _redact(settings.mongo_uri))
        yield settings
        return
    from storage.embedded import EmbeddedServer

    path = settings.data_dir / "db"
    with EmbeddedServer(path, log_path=settings.data_dir / "secantusd.log") as embedded:
        log.info("database: embedded SecantusDB at %s, data in %s", embedded.uri, path.resolve())
        yield replace(settings, mongo_uri=embedded.uri)
