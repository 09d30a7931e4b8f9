"""``convos-gateway``: serve, import, token, export-schema."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from app.auth import issue_token
from app.settings import Settings, SettingsError
from storage.embedded import EmbeddedServerError

if TYPE_CHECKING:
    from resolvers.importing import ImportSummary
    from resolvers.imports import ImportProgress, ImportResult

log = logging.getLogger("convos_gateway")

# The user `make run` prints a token for: an ObjectId-shaped id, as LibreChat's are.
DEV_USER_ID = "64f0c0ffee00000000000001"
_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """``90``, ``15m``, ``1h``, ``7d`` -> seconds."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 15m, 1h, 7d)")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _redact(uri: str) -> str:
    return re.sub(r"//([^:/@]+):([^@]+)@", r"//\1:***@", uri)


def _banner(settings: Settings, token: str) -> str:
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        "",
        "convos-gateway is ready.",
        f"  REST:      {base}/api/convos",
    ]
    if settings.graphiql:
        lines.append(f"  GraphiQL:  {base}/graphql   (set the header below in its Headers tab)")
    lines += [
        f"  Token for user {DEV_USER_ID} (24 h):",
        f"    {token}",
        "  Try:",
        f"    curl -H 'Authorization: Bearer {token}' {base}/api/convos",
        f'  GraphiQL headers: {{"Authorization": "Bearer {token}"}}',
        "",
    ]
    return "\n".join(lines)


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


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app

    settings = Settings.from_env()
    settings = replace(
        settings,
        host=args.host or settings.host,
        port=args.port if args.port is not None else settings.port,
    ).with_secret()
    with database_settings(settings) as settings:
        token = issue_token(settings.jwt_secret, DEV_USER_ID, 24 * 3600)
        show_banner = not settings.production

        def ready() -> None:
            if show_banner:
                print(_banner(settings, token), flush=True)

        app = create_app(settings, on_ready=ready)
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            access_log=settings.log_level == "debug",
            # Slow clients must not hold sockets forever.
            timeout_keep_alive=30,
            # One WebSocket message is one GraphQL request: same cap as a body.
            ws_max_size=settings.max_body_bytes,
        )
    return 0


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
    from resolvers.imports import ImportAdmission, import_conversations
    from resolvers.services import Services
    from storage.database import connect
    from storage.indexes import ensure_indexes

    assert settings.mongo_uri is not None
    database = connect(
        settings.mongo_uri, default_db=settings.mongo_db_name, timeout_ms=settings.mongo_timeout_ms
    )
    try:
        await ensure_indexes(database)
        return await import_conversations(
            Services(database=database),
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

    from resolvers.errors import UserError
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
        with database_settings(settings) as settings:
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


def token(args: argparse.Namespace) -> int:
    settings = Settings.from_env().with_secret()
    print(issue_token(settings.jwt_secret, args.user, args.ttl))
    return 0


def export_schema(args: argparse.Namespace) -> int:
    from resolvers.schema import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")
    return 0


def reindex(args: argparse.Namespace) -> int:
    """Rebuild the search index (SEARCH_INDEX_PATH) from every message in the database."""
    import asyncio

    from app.reindex import reindex as rebuild

    settings = Settings.from_env()
    if settings.search_index_path is None:
        print("convos-gateway: SEARCH_INDEX_PATH=:memory: has no file to rebuild", file=sys.stderr)
        return 2
    with database_settings(settings) as settings:
        rows, seconds = asyncio.run(rebuild(settings))
    print(f"Indexed {rows:,} messages into {settings.search_index_path} in {seconds:.1f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convos-gateway",
        description="GraphQL and LibreChat-compatible REST gateway for LibreChat conversations.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p_serve = sub.add_parser("serve", help="run the gateway (embedded database unless MONGO_URI)")
    p_serve.add_argument("--host", help="listen address (default HOST or 127.0.0.1)")
    p_serve.add_argument("--port", type=int, help="listen port (default PORT or 3080)")
    p_serve.set_defaults(func=serve)

    p_import = sub.add_parser(
        "import",
        help="import a conversation export (LibreChat, ChatGPT, Chatbot UI, Claude; JSON or zip)",
    )
    p_import.add_argument("file", help="the export file")
    p_import.add_argument("--user", required=True, help="the user id to import for")
    p_import.set_defaults(func=import_file)

    p_token = sub.add_parser("token", help="print a JWT for a user, signed with JWT_SECRET")
    p_token.add_argument("--user", required=True, help="the user id (LibreChat's `id` claim)")
    p_token.add_argument(
        "--ttl", type=parse_duration, default=3600, help="lifetime, e.g. 15m, 1h, 7d"
    )
    p_token.set_defaults(func=token)

    p_schema = sub.add_parser("export-schema", help="print the GraphQL SDL")
    p_schema.set_defaults(func=export_schema)

    p_reindex = sub.add_parser("reindex", help="rebuild the search index (gateway stopped)")
    p_reindex.set_defaults(func=reindex)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
        return result
    except SettingsError as exc:
        print(f"convos-gateway: {exc}", file=sys.stderr)
        return 2
    except EmbeddedServerError as exc:
        # Port taken, data folder unusable or locked: a message, not a traceback.
        print(f"convos-gateway: embedded database: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
