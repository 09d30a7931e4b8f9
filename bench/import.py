"""Import throughput and memory against the database's own insert floor.

For each generated ChatGPT export (``bench/gen_chatgpt_export.py``) this
measures, on a fresh embedded database each time (file storage in a temp dir,
LibreChat's indexes):

- **import**: ``resolvers.importing.operation.import_conversations``, the operation behind
  ``POST /api/convos/import``: both passes over the file, batched writes,
  tags. Run in a fresh subprocess, whose peak RSS growth during the import is
  read from ``/proc/self/status`` (the peak is reset just before it starts);
- **floor**: the same documents (parsed beforehand, untimed) written straight
  with PyMongo ``insert_many``, messages then conversations: the time the
  database itself needs to store them, which no import can beat.

The ratio import/floor is the figure of merit (target: at most 1.5x), and
RSS growth should stay flat as the file grows (target: at most 64 MB)::

    python -m bench.import            # 1,000 x 2 (1.8 MB) and 5,000 x 8 (28 MB)
    python -m bench.import --big      # also 45,000 x 8 (about 250 MB)
    python -m bench.import --quick    # 1,000 x 2 only, a smoke run
    python -m bench.import --sizes 2000x4,8000x2

Generated files are cached in ``--data-dir`` (default: the temp dir).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.gen_chatgpt_export import write_export
from resolvers.importing.operation import BATCH_MESSAGES

DEFAULT_SIZES = ((1_000, 2), (5_000, 8))
QUICK_SIZES = ((1_000, 2),)
BIG_SIZE = (45_000, 8)
USER = "6b0a7813319bf155c7d48351"
# Conversations parsed per floor chunk: whole small files, bounded memory on big ones.
FLOOR_CHUNK = 5_000


@dataclass(frozen=True)
class Measure:
    seconds: float
    conversations: int
    messages: int
    rss_growth_mb: float = 0.0
    validate_seconds: float = 0.0


def _status_kb(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    assert match is not None, field
    return int(match.group(1))


def _reset_peak_rss() -> None:
    # Linux: writing 5 to clear_refs resets VmHWM to the current RSS.
    Path("/proc/self/clear_refs").write_text("5")


# --- children: each measurement runs in a fresh process ----------------------


async def _child_import(uri: str, path: Path, batch_messages: int) -> Measure:
    from resolvers.adapters.services import Services
    from resolvers.importing.operation import ImportAdmission, import_conversations
    from storage.database import connect
    from storage.indexes import ensure_indexes

    # Warm up in a scratch database (imports, ijson's backend, the thread
    # pool, the connection pool), as in a server that has served a request.
    scratch = connect(uri, db_name="bench_warmup")
    warmup = io.StringIO()
    write_export(warmup, 20, 2, seed=1)
    await import_conversations(
        Services(database=scratch),
        ImportAdmission.unmetered(USER),
        lambda: io.BytesIO(warmup.getvalue().encode()),
    )
    await scratch.close()

    database = connect(uri, db_name="bench_import")
    await ensure_indexes(database)
    services = Services(database=database)
    validated: list[float] = []
    _reset_peak_rss()
    before_kb = _status_kb("VmRSS")
    started = time.perf_counter()
    result = await import_conversations(
        services,
        ImportAdmission.unmetered(USER),
        lambda: path.open("rb"),
        on_validated=lambda summary: validated.append(time.perf_counter()),
        batch_messages=batch_messages,
    )
    elapsed = time.perf_counter() - started
    peak_kb = _status_kb("VmHWM")
    await database.close()
    return Measure(
        seconds=elapsed,
        conversations=result.conversations,
        messages=result.messages,
        rss_growth_mb=(peak_kb - before_kb) / 1024,
        validate_seconds=validated[0] - started,
    )


async def _child_floor(uri: str, path: Path, batch_messages: int) -> Measure:
    from bson import ObjectId

    from resolvers.importing import iter_import
    from storage.database import connect
    from storage.indexes import ensure_indexes

    database = connect(uri, db_name="bench_floor")
    await ensure_indexes(database)
    parsed = iter_import(lambda: path.open("rb"), USER, datetime.now(UTC))
    seconds = 0.0
    conversations = messages = 0
    done = False
    while not done:
        # Parse a chunk (untimed), exactly the documents the import writes.
        conversation_docs: list[dict[str, Any]] = []
        message_docs: list[dict[str, Any]] = []
        for item in parsed:
            ids = []
            for message in item.messages:
                message["_id"] = ObjectId()
                ids.append(message["_id"])
            item.conversation["messages"] = ids
            conversation_docs.append(item.conversation)
            message_docs.extend(item.messages)
            if len(conversation_docs) >= FLOOR_CHUNK:
                break
        else:
            done = True
        if not conversation_docs:
            break
        started = time.perf_counter()
        await database.messages.insert_many(message_docs, ordered=False)
        await database.conversations.insert_many(conversation_docs, ordered=False)
        seconds += time.perf_counter() - started
        conversations += len(conversation_docs)
        messages += len(message_docs)
    await database.close()
    return Measure(seconds=seconds, conversations=conversations, messages=messages)


def _child(kind: str, uri: str, path: Path, batch_messages: int) -> None:
    run = _child_import if kind == "import" else _child_floor
    measure = asyncio.run(run(uri, path, batch_messages))
    print(json.dumps(measure.__dict__))


# --- parent ------------------------------------------------------------------


def _measure(kind: str, path: Path, batch_messages: int) -> Measure:
    """Run one measurement in a fresh process against a fresh database server."""
    from storage.embedded import EmbeddedServer

    with (
        tempfile.TemporaryDirectory(prefix="bench-import-db-") as directory,
        EmbeddedServer(Path(directory) / "db") as server,
    ):
        output = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.import",
                "--child",
                kind,
                server.uri,
                str(path),
                "--batch-messages",
                str(batch_messages),
            ],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        ).stdout
    return Measure(**json.loads(output.strip().splitlines()[-1]))


def _export(directory: Path, conversations: int, messages: int) -> Path:
    path = directory / f"chatgpt-{conversations}x{messages}.json"
    if not path.exists():
        partial = path.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as out:
            write_export(out, conversations, messages)
        partial.rename(path)
    return path


def _sizes(text: str) -> tuple[tuple[int, int], ...]:
    sizes = []
    for item in text.split(","):
        conversations, _, messages = item.strip().partition("x")
        sizes.append((int(conversations), int(messages)))
    return tuple(sizes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only 1,000 x 2")
    parser.add_argument("--big", action="store_true", help="also 45,000 x 8 (about 250 MB)")
    parser.add_argument("--sizes", type=_sizes, help="e.g. 1000x2,5000x8 (overrides the above)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "convos-bench-import",
        help="where generated exports are kept between runs",
    )
    parser.add_argument(
        "--batch-messages",
        type=int,
        default=BATCH_MESSAGES,
        help=f"messages per insert in the import (default {BATCH_MESSAGES})",
    )
    parser.add_argument("--child", nargs=3, metavar=("KIND", "URI", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, uri, file = args.child
        _child(kind, uri, Path(file), args.batch_messages)
        return 0

    sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.big and not args.sizes:
        sizes = (*sizes, BIG_SIZE)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    header = (
        f"{'export':>10} {'MB':>7} {'import s':>9} {'(valid.)':>9} {'conv/s':>8} {'msg/s':>8} "
        f"{'floor s':>8} {'ratio':>6} {'RSS +MB':>8}"
    )
    print(header)
    print("-" * len(header))
    for conversations, messages in sizes:
        path = _export(args.data_dir, conversations, messages)
        floor = _measure("floor", path, args.batch_messages)
        imported = _measure("import", path, args.batch_messages)
        assert (imported.conversations, imported.messages) == (
            floor.conversations,
            floor.messages,
        ), "the import and the floor wrote different documents"
        print(
            f"{conversations:>6}x{messages:<3} {path.stat().st_size / 1e6:>7.1f} "
            f"{imported.seconds:>9.2f} {imported.validate_seconds:>9.2f} "
            f"{imported.conversations / imported.seconds:>8.0f} "
            f"{imported.messages / imported.seconds:>8.0f} {floor.seconds:>8.2f} "
            f"{imported.seconds / floor.seconds:>5.2f}x {imported.rss_growth_mb:>8.1f}",
            flush=True,
        )
    print(
        "\nimport: resolvers.importing.operation.import_conversations (validation pass, then"
        " batched writes);"
        "\nfloor: insert_many of the same documents, parsed beforehand; each on a fresh"
        "\nembedded database. Targets: ratio <= 1.5x, RSS growth <= 64 MB and flat."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
