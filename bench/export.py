"""Export time against a plain ``find`` of the same documents, and memory growth.

One embedded database (file storage in a temp dir, LibreChat's indexes) is
seeded through the import operation from generated ChatGPT exports
(``bench/gen_chatgpt_export.py``): one user with 1,000 conversations and one
with 5,000, 8 messages each. Then, for each user, a fresh process measures:

- **find**: the floor: every conversation of the user (the export's
  projection) and every message, read with plain PyMongo cursors and thrown
  away: the database's own cost of handing over the documents;
- **export** in each format: ``resolvers.exporting.operation.export_conversations``,
  the operation behind ``GET /api/convos/export``, its stream read to the end
  (bytes counted, not kept), with the process's peak RSS growth during it
  (``/proc/self/status``: the peak is reset just before it starts).

Figures of merit: export/find (the price of rendering and compressing), and
RSS growth that stays flat from 1,000 to 5,000 conversations::

    python -m bench.export                 # 1,000 x 8 and 5,000 x 8
    python -m bench.export --sizes 500x8,2000x8
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.gen_chatgpt_export import write_export

DEFAULT_SIZES = ((1_000, 8), (5_000, 8))
FORMATS = ("librechat", "markdown", "jsonl")


def _user(conversations: int, messages: int) -> str:
    # An ObjectId-shaped id per size, as LibreChat's are.
    return f"{conversations:012d}{messages:012d}"


def _status_kb(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    assert match is not None, field
    return int(match.group(1))


def _reset_peak_rss() -> None:
    # Linux: writing 5 to clear_refs resets VmHWM to the current RSS.
    Path("/proc/self/clear_refs").write_text("5")


# --- seeding -------------------------------------------------------------------


async def _seed(uri: str, sizes: Sequence[tuple[int, int]], data_dir: Path) -> None:
    from resolvers.adapters.services import Services
    from resolvers.importing.operation import ImportAdmission, import_conversations
    from storage.database import connect
    from storage.indexes import ensure_indexes

    database = connect(uri, db_name="bench_export")
    await ensure_indexes(database)
    for conversations, messages in sizes:
        path = data_dir / f"chatgpt-{conversations}x{messages}.json"
        if not path.exists():
            partial = path.with_suffix(".partial")
            with partial.open("w", encoding="utf-8") as out:
                write_export(out, conversations, messages)
            partial.rename(path)
        await import_conversations(
            Services(database=database),
            ImportAdmission.unmetered(_user(conversations, messages)),
            functools.partial(path.open, "rb"),
        )
    await database.close()


# --- the child: one user's measurements in a fresh process ---------------------


async def _child(uri: str, user: str) -> dict[str, object]:
    from resolvers.adapters.services import Services
    from resolvers.exporting.formats import ExportFormat
    from resolvers.exporting.operation import (
        CONVERSATION_PROJECTION,
        ExportAdmission,
        export_conversations,
    )
    from resolvers.operations.conversations import ListQuery
    from resolvers.operations.selection import Selection
    from storage.database import connect

    database = connect(uri, db_name="bench_export")
    services = Services(database=database)

    async def plain_find() -> tuple[float, int]:
        started = time.perf_counter()
        documents = 0
        async for _ in database.conversations.find({"user": user}, CONVERSATION_PROJECTION):
            documents += 1
        async for _ in database.messages.find({"user": user}, {"__v": 0, "_meiliIndex": 0}):
            documents += 1
        return time.perf_counter() - started, documents

    async def export(fmt: ExportFormat) -> tuple[float, int, float]:
        _reset_peak_rss()
        before_kb = _status_kb("VmRSS")
        started = time.perf_counter()
        stream = await export_conversations(
            services,
            ExportAdmission.unmetered(user),
            selection=Selection(filter=ListQuery()),
            fmt=fmt,
        )
        size = 0
        async for chunk in stream.chunks:
            size += len(chunk)
        elapsed = time.perf_counter() - started
        return elapsed, size, (_status_kb("VmHWM") - before_kb) / 1024

    # Warm up: imports, the thread pool, the connection pool, the caches.
    await plain_find()
    for fmt in ExportFormat:
        await export(fmt)
    find_s, documents = await plain_find()
    result: dict[str, object] = {"find_s": find_s, "documents": documents}
    for fmt in ExportFormat:
        seconds, size, rss = await export(fmt)
        result[fmt.value] = {"seconds": seconds, "bytes": size, "rss_growth_mb": rss}
    # The floor again, after the exports: the mean of both sides of them.
    result["find_s"] = (find_s + (await plain_find())[0]) / 2
    await database.close()
    return result


# --- parent --------------------------------------------------------------------


def _sizes(text: str) -> tuple[tuple[int, int], ...]:
    sizes = []
    for item in text.split(","):
        conversations, _, messages = item.strip().partition("x")
        sizes.append((int(conversations), int(messages)))
    return tuple(sizes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_sizes, help="e.g. 1000x8,5000x8")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "convos-bench-export",
        help="where generated exports are kept between runs",
    )
    parser.add_argument("--child", nargs=2, metavar=("URI", "USER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(asyncio.run(_child(*args.child))))
        return 0

    from storage.embedded import EmbeddedServer

    sizes = args.sizes or DEFAULT_SIZES
    args.data_dir.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="bench-export-db-") as directory,
        EmbeddedServer(Path(directory) / "db") as server,
    ):
        started = time.perf_counter()
        asyncio.run(_seed(server.uri, sizes, args.data_dir))
        print(f"seeded {', '.join(f'{c}x{m}' for c, m in sizes)} in "
              f"{time.perf_counter() - started:.1f} s\n")  # fmt: skip
        header = (
            f"{'size':>9} {'documents':>9} {'find s':>7} {'format':>9} {'export s':>8} "
            f"{'ratio':>6} {'conv/s':>7} {'MB out':>7} {'RSS +MB':>8}"
        )
        print(header)
        print("-" * len(header))
        for conversations, messages in sizes:
            output = subprocess.run(
                [sys.executable, "-m", "bench.export", "--child", server.uri,
                 _user(conversations, messages)],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            ).stdout  # fmt: skip
            result = json.loads(output.strip().splitlines()[-1])
            find_s = result["find_s"]
            for fmt in FORMATS:
                m = result[fmt]
                print(
                    f"{conversations:>5}x{messages:<3} {result['documents']:>9} {find_s:>7.2f} "
                    f"{fmt:>9} {m['seconds']:>8.2f} {m['seconds'] / find_s:>5.1f}x "
                    f"{conversations / m['seconds']:>7.0f} {m['bytes'] / 1e6:>7.1f} "
                    f"{m['rss_growth_mb']:>8.1f}",
                    flush=True,
                )
    print(
        "\nfind: plain PyMongo cursors over the same conversations and messages, discarded;"
        "\nexport: export_conversations read to the end, in a fresh process per size;"
        "\nRSS +MB: peak growth during that export. Target: flat from 1,000 to 5,000."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
