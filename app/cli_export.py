"""``convos-gateway export``: a selection to a file, as ``GET /api/convos/export`` streams it.

An operator's command: no rate limit applies. Apart from ``app/cli.py`` so
that file keeps one short block for it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TextIO

from app.settings import Settings

DatabaseSettings = Callable[[Settings], AbstractContextManager[Settings]]


class ExportProgressBar:
    """Conversations written out of the selection's total, on one terminal line
    (drawn like the import's bar; nothing when the output is no terminal)."""

    WIDTH = 30
    INTERVAL_S = 0.1

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self._drawn = 0.0

    def exported(self, done: int, total: int) -> None:
        now = time.monotonic()
        finished = done >= total
        if not self.tty or (not finished and now - self._drawn < self.INTERVAL_S):
            return
        self._drawn = now
        fraction = min(1.0, done / total) if total else 1.0
        bar = "#" * int(self.WIDTH * fraction) + "." * (self.WIDTH - int(self.WIDTH * fraction))
        self.out.write(f"\r[{bar}] {fraction:4.0%} {done:,}/{total:,} conversations exported")
        self.out.write("\x1b[K" + ("\n" if finished else ""))
        self.out.flush()


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], database_settings: DatabaseSettings
) -> None:
    """Add ``export``; ``database_settings`` is app/cli.py's (MONGO_URI or the embedded one)."""
    p = sub.add_parser(
        "export",
        help="export a user's conversations (LibreChat JSON zip, Markdown zip, or JSONL)",
    )
    p.add_argument("--user", required=True, help="the user id whose conversations to export")
    p.add_argument("--format", choices=["librechat", "markdown", "jsonl"], default="librechat")
    p.add_argument("-o", "--output", help="the file to write (default: a dated name here)")
    p.add_argument("--ids", nargs="+", help="up to 1,000 conversation ids (else the filters)")
    p.add_argument("--archived", action="store_true", help="archived conversations instead")
    p.add_argument("--tags", nargs="+", default=[], help="conversations carrying any of these")
    p.add_argument("--search", help="title, tag or message text containing this")
    pinned = p.add_mutually_exclusive_group()
    pinned.add_argument("--pinned", dest="pinned", action="store_true", default=None)
    pinned.add_argument("--unpinned", dest="pinned", action="store_false")
    p.set_defaults(func=export_file, database_settings=database_settings)


async def _export(
    settings: Settings, args: argparse.Namespace, bar: ExportProgressBar
) -> tuple[Path, int, int]:
    from resolvers.adapters.services import Services
    from resolvers.exporting.formats import ExportFormat
    from resolvers.exporting.operation import ExportAdmission, export_conversations
    from resolvers.operations.conversations import ListQuery
    from resolvers.operations.selection import Selection
    from storage.database import connect

    assert settings.mongo_uri is not None
    database = connect(
        settings.mongo_uri, default_db=settings.mongo_db_name, timeout_ms=settings.mongo_timeout_ms
    )
    selection = (
        Selection(ids=args.ids)
        if args.ids
        else Selection(
            filter=ListQuery(
                is_archived=args.archived, tags=args.tags, search=args.search, pinned=args.pinned
            )
        )
    )
    try:
        stream = await export_conversations(
            Services(database=database),
            ExportAdmission.unmetered(args.user.strip()),
            selection=selection,
            fmt=ExportFormat(args.format),
            on_progress=bar.exported,
        )
        path = Path(args.output or stream.filename)
        written = 0
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as out:
            async for chunk in stream.chunks:
                out.write(chunk)
                written += len(chunk)
        # Only a complete export takes the name: a failure leaves no half file behind it.
        partial.replace(path)
        return path, stream.total, written
    finally:
        await database.close()


def export_file(args: argparse.Namespace) -> int:
    from pymongo.errors import PyMongoError

    from resolvers.operations.errors import UserError
    from storage.embedded import EmbeddedServerError

    if not args.user.strip():
        sys.stderr.write("convos-gateway: --user must not be empty\n")
        return 2
    settings = Settings.from_env()
    bar = ExportProgressBar(sys.stderr)
    started = time.monotonic()
    try:
        with args.database_settings(settings) as settings:
            path, total, written = asyncio.run(_export(settings, args, bar))
    except UserError as exc:
        sys.stderr.write(f"convos-gateway: nothing exported: {exc.message}\n")
        return 1
    except (PyMongoError, EmbeddedServerError, OSError) as exc:
        sys.stderr.write(f"convos-gateway: nothing exported: {exc}\n")
        return 1
    elapsed = time.monotonic() - started
    sys.stdout.write(
        f"Exported {total:,} conversations to {path} ({written / 1e6:,.1f} MB) in {elapsed:.1f} s\n"
    )
    return 0
