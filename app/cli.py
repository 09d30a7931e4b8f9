"""``convos-gateway``: serve, token, export-schema."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import replace

from app.auth import issue_token
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


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app
    from storage.embedded import EmbeddedServer

    settings = Settings.from_env()
    settings = replace(
        settings,
        host=args.host or settings.host,
        port=args.port if args.port is not None else settings.port,
    ).with_secret()
    embedded: EmbeddedServer | None = None
    try:
        if settings.mongo_uri is None:
            path = settings.data_dir / "db"
            embedded = EmbeddedServer(path, log_path=settings.data_dir / "secantusd.log")
            embedded.start()
            settings = replace(settings, mongo_uri=embedded.uri)
            log.info(
                "database: embedded SecantusDB at %s, data in %s", embedded.uri, path.resolve()
            )
        else:
            log.info("database: MongoDB at %s", _redact(settings.mongo_uri))

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
    finally:
        if embedded is not None:
            embedded.stop()


def token(args: argparse.Namespace) -> int:
    settings = Settings.from_env().with_secret()
    print(issue_token(settings.jwt_secret, args.user, args.ttl))
    return 0


def export_schema(args: argparse.Namespace) -> int:
    from resolvers.schema import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")
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

    p_token = sub.add_parser("token", help="print a JWT for a user, signed with JWT_SECRET")
    p_token.add_argument("--user", required=True, help="the user id (LibreChat's `id` claim)")
    p_token.add_argument(
        "--ttl", type=parse_duration, default=3600, help="lifetime, e.g. 15m, 1h, 7d"
    )
    p_token.set_defaults(func=token)

    p_schema = sub.add_parser("export-schema", help="print the GraphQL SDL")
    p_schema.set_defaults(func=export_schema)
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
