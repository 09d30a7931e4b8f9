"""``convos-gateway``: serve, import, export, demo, token, doctor, export-schema."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import replace

from app.auth import issue_token
from app.cli_database import database_settings
from app.cli_import import ProgressBar as ProgressBar
from app.cli_import import import_file
from app.settings import Settings, SettingsError
from storage.embedded import EmbeddedServerError

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


def _banner(settings: Settings, token: str, *, token_in_graphiql: bool = False) -> str:
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        "",
        "convos-gateway is ready.",
        f"  REST:      {base}/api/convos",
    ]
    if settings.graphiql:
        where = (
            "the token below is already in its Headers tab"
            if token_in_graphiql
            else "set the header below in its Headers tab"
        )
        lines.append(f"  GraphiQL:  {base}/graphql   ({where})")
    lines += [
        f"  Token for user {DEV_USER_ID} (24 h):",
        f"    {token}",
        "  Try:",
        f"    curl -H 'Authorization: Bearer {token}' {base}/api/convos",
        f'  GraphiQL headers: {{"Authorization": "Bearer {token}"}}',
        "",
    ]
    return "\n".join(lines)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.demo import load_sample_on_first_run
    from app.log_format import configure_logging
    from app.main import create_app
    from app.server import server_options
    from app.shutdown import GracefulServer, exit_cleanly_on_sigterm

    settings = Settings.from_env()
    # Decided before the secret and the database are filled in: a secret the
    # gateway generated signs nothing but development tokens, and an embedded
    # database holds no one's LibreChat data.
    generated_secret = not settings.jwt_secret
    embedded = settings.mongo_uri is None
    settings = replace(
        settings,
        host=args.host or settings.host,
        port=args.port if args.port is not None else settings.port,
    ).with_secret()
    configure_logging(settings.log_format, settings.log_level)
    exit_cleanly_on_sigterm()
    with database_settings(settings) as settings:
        load_sample_on_first_run(settings, DEV_USER_ID, embedded=embedded)
        token = issue_token(settings.jwt_secret, DEV_USER_ID, 24 * 3600)
        # A token on stdout is for a person at a terminal, never for a log collector.
        show_banner = not settings.production and settings.log_format == "text"
        # GraphiQL opens with the printed token only where it is as public as
        # the terminal: development, a secret nobody configured, and a
        # loopback address (HOST=0.0.0.0 would hand it to the whole network).
        graphiql_token = (
            token
            if generated_secret and not settings.production and _loopback(settings.host)
            else None
        )

        def ready() -> None:
            if show_banner:
                banner = _banner(settings, token, token_in_graphiql=graphiql_token is not None)
                print(banner, flush=True)
            else:
                log.info("ready on http://%s:%s", settings.host, settings.port)

        from app.tracing import Tracing

        # OpenTelemetry only when the standard OTEL_* variables ask for it.
        app = create_app(
            settings, on_ready=ready, tracing=Tracing.from_env(), graphiql_token=graphiql_token
        )
        # Proxy headers off, header/body/idle limits: see app/server.py. Our
        # handlers format every line (app/log_format.py): our access line names
        # the route template, uvicorn's the raw query string.
        options = {
            **server_options(app, settings),
            "log_config": None,
            "access_log": False,
            "timeout_graceful_shutdown": settings.shutdown_grace_s,
        }
        server = GracefulServer(uvicorn.Config(**options), app.state.websockets.close_all)
        server.run()
    return 0 if server.started else 1


def _refused(message: str) -> int:
    """A command that cannot run as asked: one line on stderr, exit status 2."""
    print(f"convos-gateway: {message}", file=sys.stderr)
    return 2


def demo(args: argparse.Namespace) -> int:
    """Load the built-in sample for the development user (``--reset``: replace their data)."""
    from app.demo import describe, load_first_run_sample, reload_sample

    settings = Settings.from_env()
    if settings.production:
        return _refused("no sample in production (CONVOS_ENV=production)")
    if settings.mongo_uri is not None:
        # The sample is for the embedded database; MONGO_URI is someone's LibreChat.
        return _refused("the sample loads only into the embedded database; unset MONGO_URI")
    try:
        with database_settings(settings) as database:
            if args.reset:
                result = reload_sample(database, DEV_USER_ID)
            else:
                loaded = load_first_run_sample(database, DEV_USER_ID)
                if loaded is None:
                    print(
                        f"User {DEV_USER_ID} already has data or had the sample: nothing loaded "
                        "(--reset replaces their conversations and tags with the sample)"
                    )
                    return 0
                result = loaded
    except EmbeddedServerError as exc:
        # Most often a running gateway holds the data folder.
        reason = str(exc).splitlines()[0]
        return _refused(
            f"cannot open the embedded database in {settings.data_dir} "
            f"({reason}); stop a gateway running on it first"
        )
    print(f"Loaded the sample: {describe(result, DEV_USER_ID)}")
    return 0


def token(args: argparse.Namespace) -> int:
    settings = Settings.from_env().with_secret()
    print(issue_token(settings.jwt_secret, args.user, args.ttl))
    return 0


def doctor(args: argparse.Namespace) -> int:
    """Check MONGO_URI's database (and Redis) read-only; exit 1 if serving is blocked."""
    from app import doctor

    settings = Settings.from_env()
    if settings.mongo_uri is None:
        return _refused("doctor checks an existing database: set MONGO_URI")
    return doctor.run(settings, sys.stdout, sample=args.sample, create_indexes=args.create_indexes)


def export_schema(args: argparse.Namespace) -> int:
    from resolvers.graphql.schema import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")
    return 0


def reindex(args: argparse.Namespace) -> int:
    """Rebuild the search index (SEARCH_INDEX_PATH) from every message in the database."""
    import asyncio

    from app.reindex import reindex as rebuild

    settings = Settings.from_env()
    if settings.search_index_file is None:
        return _refused("SEARCH_INDEX_PATH=:memory: has no file to rebuild")
    with database_settings(settings) as settings:
        rows, seconds = asyncio.run(rebuild(settings))
    print(f"Indexed {rows:,} messages into {settings.search_index_file} in {seconds:.1f} s")
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
    p_import.set_defaults(func=import_file, database_settings=database_settings)

    p_demo = sub.add_parser(
        "demo", help="load the built-in sample for the development user (embedded database)"
    )
    p_demo.add_argument(
        "--reset",
        action="store_true",
        help="first delete the development user's conversations, messages and tags",
    )
    p_demo.set_defaults(func=demo)
    # convos-gateway export: its own module (app/cli_export.py).
    from app.cli_export import add_parser as add_export_parser

    add_export_parser(sub, database_settings)

    p_token = sub.add_parser("token", help="print a JWT for a user, signed with JWT_SECRET")
    p_token.add_argument("--user", required=True, help="the user id (LibreChat's `id` claim)")
    p_token.add_argument(
        "--ttl", type=parse_duration, default=3600, help="lifetime, e.g. 15m, 1h, 7d"
    )
    p_token.set_defaults(func=token)

    p_doctor = sub.add_parser(
        "doctor", help="check MONGO_URI's database and Redis (read-only); exit 1 if not servable"
    )
    p_doctor.add_argument(
        "--sample", type=int, default=1000, help="documents per collection whose shape is checked"
    )
    p_doctor.add_argument(
        "--create-indexes", action="store_true", help="create the indexes the gateway needs"
    )
    p_doctor.set_defaults(func=doctor)

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
