"""What journaled writes (``MONGO_WRITE_JOURNAL``, write concern ``j: true``) cost.

On one embedded database (file storage in a temp dir), two clients, one with
``j: true`` and one without, take turns: rounds of single-document inserts and
updates, alternated so that load on the machine hits both alike. Prints the
median time per write and the ratio journaled/unjournaled::

    python -m bench.write_journal              # 5 rounds of 200 inserts + 200 updates
    python -m bench.write_journal --rounds 9 --writes 500
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from storage.database import Database, connect
from storage.embedded import EmbeddedServer


async def _round(database: Database, writes: int, tag: str) -> tuple[float, float]:
    """Seconds per insert and per update of one round."""
    started = time.perf_counter()
    for i in range(writes):
        await database.conversations.insert_one({"conversationId": f"{tag}-{i}", "title": "x"})
    inserts = (time.perf_counter() - started) / writes
    started = time.perf_counter()
    for i in range(writes):
        await database.conversations.update_one(
            {"conversationId": f"{tag}-{i}"}, {"$set": {"title": "y"}}
        )
    return inserts, (time.perf_counter() - started) / writes


async def run(rounds: int, writes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db", log_path=Path(tmp) / "db.log")
        await asyncio.to_thread(server.start)
        clients = {
            "unjournaled": connect(server.uri, db_name="bench", journal=False),
            "journaled": connect(server.uri, db_name="bench", journal=True),
        }
        try:
            await clients["journaled"].conversations.create_index("conversationId")
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
            for number in range(rounds):
                for name, database in clients.items():
                    times[name].append(await _round(database, writes, f"{name}-{number}"))
        finally:
            for database in clients.values():
                await database.close()
            await asyncio.to_thread(server.stop)
    medians = {
        name: (
            statistics.median(t[0] for t in rows) * 1000,
            statistics.median(t[1] for t in rows) * 1000,
        )
        for name, rows in times.items()
    }
    for name, (insert_ms, update_ms) in medians.items():
        print(f"{name:12} insert {insert_ms:6.3f} ms   update {update_ms:6.3f} ms")
    (plain_i, plain_u), (journal_i, journal_u) = medians["unjournaled"], medians["journaled"]
    print(f"ratio        insert {journal_i / plain_i:6.2f}x     update {journal_u / plain_u:6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writes", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.rounds, args.writes))


if __name__ == "__main__":
    main()
