"""The two servers bench.requests compares, each run in its own process.

- ``gateway``: the real application (``app.main.create_app``) under uvicorn
  with uvloop and httptools, in production mode (no GraphiQL, no
  introspection, errors masked), exactly as an operator runs it.
- ``floor``: a bare Starlette app whose handlers issue the *same* MongoDB
  commands with PyMongo async (same filter, sort, projection, limit and
  count) and return the documents as orjson, with no auth, no validation,
  no GraphQL. It is what the same database work costs with nothing around it.

The floor writes its queries out literally, so it stays minimal;
:func:`check_floor_matches_gateway` proves they are the gateway's own
(``storage`` builds them), so the two cannot silently drift apart.

Run: ``python -m bench.servers gateway|floor --port P --mongo-uri URI --db NAME --user ID``.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import uvicorn
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from app.tracing import Tracing

# --- the floor's queries, written out (checked against storage below) ------

PAGE_SIZE = 25
HIDDEN = {"__v": 0, "_meiliIndex": 0}
SUMMARY_PROJECTION = {
    name: 1
    for name in (
        "_id",
        "conversationId",
        "user",
        "title",
        "endpoint",
        "endpointType",
        "model",
        "modelLabel",
        "iconURL",
        "agent_id",
        "assistant_id",
        "spec",
        "isArchived",
        "archivedAt",
        "pinned",
        "tags",
        "createdAt",
        "updatedAt",
    )
}
LIST_SORT = [("updatedAt", -1), ("_id", -1)]
MESSAGE_SORT = [("createdAt", 1), ("_id", 1)]
WHOLE_RESULT = 1_000_000


def list_filter(user: str) -> dict[str, Any]:
    """``GET /api/convos`` with no parameters: the user's unarchived, non-temporary chats."""
    return {"$and": [{"user": user}, {"expiredAt": None}, {"isArchived": {"$ne": True}}]}


def check_floor_matches_gateway(user: str) -> None:
    """Fail loudly if the gateway's queries are no longer the floor's."""
    from storage import conversations, database, messages, tags

    assert list_filter(user) == conversations.build_filter(user, conversations.ListFilter())
    assert SUMMARY_PROJECTION == conversations.SUMMARY_PROJECTION
    assert [(f, -1) for f in conversations.sort_fields("updatedAt")] == LIST_SORT
    assert HIDDEN == conversations.HIDDEN == messages.HIDDEN
    assert tags.HIDDEN.items() <= HIDDEN.items()
    assert MESSAGE_SORT == messages.TREE_ORDER
    assert WHOLE_RESULT == database.WHOLE_RESULT


def _default(value: Any) -> Any:
    return str(value)  # ObjectId


def _json(value: Any) -> Response:
    return Response(
        orjson.dumps(value, default=_default, option=orjson.OPT_NAIVE_UTC),
        media_type="application/json",
    )


def floor_app(mongo_uri: str, db_name: str, user: str) -> Starlette:
    """The floor: the same commands as the gateway, nothing else."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=False)
    db = client[db_name]
    conversations, messages, tags = db["conversations"], db["messages"], db["conversationtags"]
    flt = list_filter(user)

    async def page() -> tuple[list[dict[str, Any]], int]:
        docs = await conversations.find(
            flt,
            SUMMARY_PROJECTION,
            sort=LIST_SORT,
            limit=PAGE_SIZE + 1,
            batch_size=PAGE_SIZE + 1,
        ).to_list(None)
        total = await conversations.count_documents(flt)
        return docs[:PAGE_SIZE], total

    async def rest_list(request: Request) -> Response:
        docs, total = await page()
        return _json({"conversations": docs, "pages": max(1, math.ceil(total / PAGE_SIZE))})

    async def rest_get(request: Request) -> Response:
        doc = await conversations.find_one(
            {"conversationId": request.path_params["cid"], "user": user}, HIDDEN
        )
        return _json(doc)

    async def graphql_page(request: Request) -> Response:
        docs, total = await page()
        return _json({"conversations": docs, "totalCount": total})

    async def graphql_deep(request: Request) -> Response:
        docs, total = await page()
        ids = [d["conversationId"] for d in docs]
        names = sorted({t for d in docs for t in d.get("tags") or ()})
        found_messages = await messages.find(
            {"user": user, "conversationId": {"$in": ids}},
            HIDDEN,
            sort=MESSAGE_SORT,
            batch_size=WHOLE_RESULT,
        ).to_list(None)
        found_tags = await tags.find(
            {"user": user, "tag": {"$in": names}}, HIDDEN, batch_size=WHOLE_RESULT
        ).to_list(None)
        return _json(
            {
                "conversations": docs,
                "totalCount": total,
                "messages": found_messages,
                "tags": found_tags,
            }
        )

    async def health(request: Request) -> Response:
        return PlainTextResponse("OK")

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/api/convos", rest_list),
            Route("/api/convos/{cid}", rest_get),
            Route("/floor/graphql-page", graphql_page),
            Route("/floor/graphql-deep", graphql_deep),
        ]
    )


def _discarding_tracing() -> Tracing:
    """Tracing as production runs it (batched), its spans dropped at export.

    The exporter's encoding and network send are left out: they run in the
    batch thread and depend on the collector, not on the gateway.
    """
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from app.tracing import Tracing

    class Discard(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    return Tracing(provider)


def gateway_app(mongo_uri: str, db_name: str, secret: str, *, tracing: bool = False) -> Starlette:
    from app.main import create_app
    from app.settings import Settings

    settings = Settings(
        env="production",
        jwt_secret=secret,
        mongo_uri=mongo_uri,
        mongo_db_name=db_name,
        graphiql=False,
        introspection=False,
        # The seeded conversations hold 4 messages each; at the default bound
        # (2,000) the cost limit refuses graphql-deep's page of 25 with messages.
        max_messages_per_conversation=4,
        # Built fresh in memory: no index file left in the checkout's data/.
        search_index_path=Path(":memory:"),
    )
    settings.check()
    return create_app(settings, tracing=_discarding_tracing() if tracing else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["gateway", "floor"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mongo-uri", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--secret", default="")
    parser.add_argument("--profile", help="write a cProfile of the whole run to this file")
    parser.add_argument("--tracing", action="store_true", help="gateway: OpenTelemetry spans on")
    args = parser.parse_args()
    if args.kind == "gateway":
        app = gateway_app(args.mongo_uri, args.db, args.secret, tracing=args.tracing)
    else:
        app = floor_app(args.mongo_uri, args.db, args.user)
    # CPU time, not wall time: waits on the database must not show as hot spots.
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    if profiler is not None:
        # uvicorn re-raises the SIGTERM it handled once it has shut down; turn
        # it into an exception so the stats below get written.
        signal.signal(signal.SIGTERM, _exit)
        profiler.enable()
    try:
        # The same server stack for both: uvloop and httptools, no access log.
        uvicorn.run(
            app,
            host="127.0.0.1",
            port=args.port,
            loop="uvloop",
            http="httptools",
            log_level="warning",
            access_log=False,
        )
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    main()
