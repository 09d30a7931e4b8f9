"""``convos-gateway import FILE --user ID``: a local export file, with a progress bar.

The same import operation as ``POST /api/convos/import``; no upload size or
rate limit applies (the file is local, the caller an operator), the zip bomb
cap does.
"""

from __future__ import annotations

import argparse
import io
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from app.settings import Settings

if TYPE_CHECKING:
    from resolvers.importing import ImportSummary
    from resolvers.importing.operation import ImportProgress, ImportResult


class ProgressBar:
    """A one-line progress display on a terminal; phase summaries elsewhere.

    The import calls it from two places: the validation pass (a worker
    thread) reports bytes read, the write pass reports rows written.
    """

    WIDTH = 30
    # Redraw at most this often: a terminal is slower than the import.
    INTERVAL_S = 0.1

    def __init__(self, out: TextIO, file_size: int) -> None:
        self.out = out
        self.tty = out.isatty()
        self.file_size = file_size
        self.validating = True
        self._drawn = 0.0
        self._lock = threading.Lock()

    def _draw(self, fraction: float, text: str, *, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not self.tty or (not force and now - self._drawn < self.INTERVAL_S):
                return
            self._drawn = now
            filled = int(self.WIDTH * min(1.0, fraction))
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self.out.write(f"\r[{bar}] {fraction:4.0%} {text}\x1b[K")
            self.out.flush()

    def _line(self, text: str) -> None:
        with self._lock:
            self.out.write(("\r\x1b[K" if self.tty else "") + text + "\n")
            self.out.flush()

    def read(self, position: int) -> None:
        """Bytes of the file read so far (the validation pass)."""
        if self.validating:
            fraction = position / self.file_size if self.file_size else 1.0
            self._draw(fraction, f"validating {position / 1e6:,.1f}/{self.file_size / 1e6:,.1f} MB")

    def validated(self, summary: ImportSummary) -> None:
        self.validating = False
        formats = ", ".join(f.value for f in summary.formats)
        self._line(
            f"valid: {summary.conversations:,} conversations, {summary.messages:,} messages "
            f"({formats})"
        )

    def wrote(self, progress: ImportProgress) -> None:
        fraction = progress.messages / progress.total_messages if progress.total_messages else 1
        done = progress.conversations == progress.total_conversations
        self._draw(
            fraction,
            f"{progress.conversations:,}/{progress.total_conversations:,} conversations, "
            f"{progress.messages:,}/{progress.total_messages:,} messages written",
            force=done,
        )
        if done and self.tty:
            self._line("")


class _CountingReader(io.BufferedReader):
    """A file whose reads report the position reached (for the progress bar)."""

    def __init__(self, path: Path, on_read: Callable[[int], None]) -> None:
        super().__init__(io.FileIO(path, "r"), buffer_size=1024 * 1024)
        self._on_read = on_read

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self._on_read(self.tell())
        return data


async def _import(settings: Settings, path: Path, user: str, bar: ProgressBar) -> ImportResult:
    from datetime import timedelta

    from resolvers.adapters.services import Services
    from resolvers.importing.operation import (
        ImportAdmission,
        ImportOptions,
        configure_imports,
        import_conversations,
    )
    from storage.database import connect
    from storage.indexes import ensure_indexes

    assert settings.mongo_uri is not None
    database = connect(
        settings.mongo_uri, default_db=settings.mongo_db_name, timeout_ms=settings.mongo_timeout_ms
    )
    services = Services(database=database)
    # One import: the pool does not matter, where it spools and its age bound do.
    abandon_after = timedelta(minutes=settings.import_abandon_after_min)
    configure_imports(
        services, ImportOptions(abandon_after=abandon_after, temp_dir=settings.import_temp_dir)
    )
    try:
        await ensure_indexes(database)
        return await import_conversations(
            services,
            # An operator importing a local file is not a client to rate limit.
            ImportAdmission.unmetered(user),
            lambda: _CountingReader(path, bar.read),
            max_uncompressed_bytes=settings.import_max_uncompressed_bytes,
            on_validated=bar.validated,
            on_progress=bar.wrote,
        )
    finally:
        await database.close()


def import_file(args: argparse.Namespace) -> int:
    """Import an export file for a user, the same way ``POST /api/convos/import`` does.

    No upload size limit applies (the file is local), nor any rate limit;
    the zip bomb cap does.
    """
    import asyncio

    from pymongo.errors import PyMongoError

    from resolvers.operations.errors import UserError
    from storage.embedded import EmbeddedServerError

    path = Path(args.file)
    if not path.is_file():
        print(f"convos-gateway: no such file: {path}", file=sys.stderr)
        return 2
    user = args.user.strip()
    if not user:
        print("convos-gateway: --user must not be empty", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    bar = ProgressBar(sys.stderr, path.stat().st_size)
    started = time.monotonic()
    try:
        # app/cli.py's (MONGO_URI or the embedded one), passed in as for
        # export: importing app.cli here would close an import cycle.
        with args.database_settings(settings) as settings:
            result = asyncio.run(_import(settings, path, user, bar))
    except UserError as exc:
        print(f"convos-gateway: nothing imported: {exc.message}", file=sys.stderr)
        return 1
    except (PyMongoError, EmbeddedServerError) as exc:
        print(f"convos-gateway: nothing imported: database error: {exc}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started
    print(
        f"Imported {result.conversations:,} conversations ({result.messages:,} messages) "
        f"for user {user} in {elapsed:.1f} s"
    )
    if result.empty_conversations:
        print(f"Skipped {result.empty_conversations:,} conversations with no message to show")
    if result.skipped_files:
        print(f"Skipped files that are no export: {', '.join(result.skipped_files)}")
    return 0
