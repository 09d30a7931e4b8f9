"""Search against the plain page, through the indexed path and the scan.

Seeds an embedded SecantusDB with N conversations x 8 LibreChat-shaped
messages of one user, starts the real app in-process (httpx's ASGI
transport), waits for the search index to be built, then measures, as
medians of ``--reps`` requests:

- the plain first page ``GET /api/convos`` (the baseline of this run);
- ``?search=`` a common word (in every conversation), a rare word (in 1 %)
  and a recent word (only in the newest 1 %), with ``SEARCH_MODE=index``;
- the rare word with ``SEARCH_MODE=scan`` (today's path), for comparison;
- the index build time on first start;
- how soon a message written straight into MongoDB is findable (search
  repeated until it is listed).

Acceptance (issue 10): indexed search <= 2x the plain page::

    python -m bench.search            # 5,000 x 8
    python -m bench.search --big      # 50,000 x 8
    python -m bench.search --conversations 500 --reps 3   # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId

from app.auth import issue_token
from app.main import create_app
from app.settings import Settings
from storage.database import Database, connect
from storage.embedded import EmbeddedServer
from storage.indexes import ensure_indexes

USER = "6b0a7813319bf155c7d48351"
SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789"
COMMON, RARE, RECENT = "weather", "xylophone", "zeppelin"
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "it",
    "rains",
    "in",
    "spring",
]
T0 = datetime(2025, 1, 1)
SEED_BATCH = 5_000


def _text(i: int, j: int, n: int) -> str:
    words = [WORDS[(i * 7 + j * 3 + k) % len(WORDS)] for k in range(12)]
    if j == 0:
        words.append(COMMON)
    if j == 3 and i % 100 == 7:
        words.append(RARE.capitalize())
    if j == 5 and i >= n - max(1, n // 100):
        words.append(RECENT)
    return " ".join(words)


async def seed(database: Database, n: int, per: int) -> None:
    await ensure_indexes(database)
    conversations: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for i in range(n):
        cid = str(uuid.uuid4())
        at = T0 + timedelta(minutes=i)
        conversations.append(
            {
                "conversationId": cid,
                "user": USER,
                "title": f"Conversation {i}",
                "endpoint": "openAI",
                "model": "gpt-4o",
                "isArchived": False,
                "tags": [],
                "createdAt": at,
                "updatedAt": at,
                "expiredAt": None,
                "__v": 0,
            }
        )
        parent = "00000000-0000-0000-0000-000000000000"
        for j in range(per):
            mid = str(uuid.uuid4())
            messages.append(
                {
                    "_id": ObjectId(),
                    "messageId": mid,
                    "conversationId": cid,
                    "user": USER,
                    "parentMessageId": parent,
                    "sender": "User" if j % 2 == 0 else "GPT-4o",
                    "text": _text(i, j, n),
                    "isCreatedByUser": j % 2 == 0,
                    "createdAt": at + timedelta(seconds=j),
                    "updatedAt": at + timedelta(seconds=j),
                }
            )
            parent = mid
        if len(messages) >= SEED_BATCH:
            await database.messages.insert_many(messages, ordered=False)
            messages = []
    if messages:
        await database.messages.insert_many(messages, ordered=False)
    await database.conversations.insert_many(conversations, ordered=False)


def _settings(uri: str, db_name: str, mode: str) -> Settings:
    return Settings(
        env="test",
        jwt_secret=SECRET,
        mongo_uri=uri,
        mongo_db_name=db_name,
        search_mode=mode,
        # In memory: the run's index is built fresh and leaves no file in data/.
        search_index_path=Path(":memory:"),
        # The scan of 50,000 x 8 runs past two minutes on the embedded database.
        request_timeout_s=900,
        execution_timeout_s=900,
        title_generation=False,
    )


class Figures(dict[str, float]):
    """The run's figures, each printed as it is measured (a long run that
    fails late still shows what it had)."""

    def __setitem__(self, key: str, value: float) -> None:
        print(f"  {key} = {value:.4f}", flush=True)
        super().__setitem__(key, value)


async def _median(client: httpx.AsyncClient, params: dict[str, str], reps: int) -> float:
    headers = {"Authorization": f"Bearer {issue_token(SECRET, USER, 3600)}"}
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        response = await client.get("/api/convos", params=params, headers=headers)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return statistics.median(times)


async def measure(uri: str, n: int, per: int, reps: int) -> dict[str, float]:
    db_name = f"bench_{uuid.uuid4().hex[:8]}"
    database = connect(uri, db_name=db_name, timeout_ms=10_000)
    figures = Figures()
    started = time.perf_counter()
    await seed(database, n, per)
    figures["seed_s"] = time.perf_counter() - started

    app = create_app(_settings(uri, db_name, "index"), database=database)
    async with app.router.lifespan_context(app):
        index = app.state.services.search_index
        started = time.perf_counter()
        while not index.ready:
            await asyncio.sleep(0.05)
        figures["index_build_s"] = time.perf_counter() - started
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            await _median(client, {}, 2)  # warm-up
            figures["plain_page_s"] = await _median(client, {}, reps)
            for label, word in (("common", COMMON), ("rare", RARE), ("recent", RECENT)):
                figures[f"index_{label}_s"] = await _median(client, {"search": word}, reps)
            # Freshness: a message written straight into MongoDB, searched until listed.
            word = f"fresh{uuid.uuid4().hex[:8]}"
            cid = (await database.conversations.find_one({"user": USER}))["conversationId"]  # type: ignore[index]
            await database.messages.insert_one(
                {
                    "messageId": str(uuid.uuid4()),
                    "conversationId": cid,
                    "user": USER,
                    "text": f"a {word} here",
                    "createdAt": datetime.utcnow(),
                    "updatedAt": datetime.utcnow(),
                }
            )
            written = time.perf_counter()
            headers = {"Authorization": f"Bearer {issue_token(SECRET, USER, 3600)}"}
            while True:
                response = await client.get("/api/convos", params={"search": word}, headers=headers)
                if response.json()["conversations"]:
                    break
            figures["findable_after_s"] = time.perf_counter() - written

    scan = create_app(_settings(uri, db_name, "scan"), database=database)
    async with scan.router.lifespan_context(scan):
        transport = httpx.ASGITransport(app=scan)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            figures["scan_plain_page_s"] = await _median(client, {}, reps)
            figures["scan_rare_s"] = await _median(client, {"search": RARE}, max(1, reps // 2))
    await database.client.drop_database(db_name)
    await database.close()
    return figures


def report(n: int, per: int, f: dict[str, float]) -> str:
    base = f["plain_page_s"]
    lines = [
        f"{n:,} conversations x {per} messages (seeded in {f['seed_s']:.1f} s)",
        f"  index build on first start   {f['index_build_s']:8.2f} s",
        f"  plain first page             {base * 1000:8.1f} ms   1.00x",
    ]
    for label in ("common", "rare", "recent"):
        s = f[f"index_{label}_s"]
        lines.append(f"  search {label:<8} (index)      {s * 1000:8.1f} ms   {s / base:.2f}x")
    s = f["scan_rare_s"]
    lines.append(
        f"  search rare     (scan)       {s * 1000:8.1f} ms   "
        f"{s / f['scan_plain_page_s']:.2f}x (its own plain page)"
    )
    lines.append(f"  findable after a direct write {f['findable_after_s'] * 1000:7.1f} ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--big", action="store_true", help="50,000 x 8 instead of 5,000 x 8")
    parser.add_argument("--conversations", type=int, default=None)
    parser.add_argument("--messages", type=int, default=8)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    n = args.conversations or (50_000 if args.big else 5_000)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db")
        server.start()
        try:
            figures = asyncio.run(measure(server.uri, n, args.messages, args.reps))
        finally:
            server.stop()
    print(report(n, args.messages, figures))


if __name__ == "__main__":
    main()
