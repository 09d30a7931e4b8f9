"""An under-cap zip bomb through the import: time, and how often it is inflated.

The bomb is a valid ChatGPT export (one conversation of two messages) padded
with whitespace to ``--inflated-mb`` (default 1,000 MB), deflated to about
1 MB: under the default inflate cap (4 x 250 MB), so it is imported. Every
byte zipfile inflates is counted (``ZipExtFile._read1``), so
``passes = inflated / uncompressed size``: 1.0 means the archive is inflated
once per import. Wall time includes writing the inflated JSON to the spool
file (disk bandwidth, not CPU); CPU time is what other requests compete with.

Then ``--concurrent`` (default 6) bombs of one user run at once while
another user imports a 2 KB file: how long that small import waits shows
whether one user's imports can hold everyone else's back.

Run against any checkout (it only uses the public entry points)::

    python -m bench.import_bomb                     # 1,000 MB bomb, 6 at once
    python -m bench.import_bomb --inflated-mb 200 --concurrent 3   # quicker
    python -m bench.import_bomb --temp-dir /dev/shm                 # spool on tmpfs

The bomb is cached in ``--data-dir`` (default: the temp dir).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BOMB_USER = "6b0a7813319bf155c7d48351"
OTHER_USER = "6b0a7813319bf155c7d48352"
_CHUNK = 1 << 20


def _conversation(title: str) -> dict[str, Any]:
    def node(node_id: str, parent: str | None, role: str, text: str) -> dict[str, Any]:
        return {
            "id": node_id,
            "parent": parent,
            "children": [],
            "message": {
                "id": node_id,
                "author": {"role": role},
                "create_time": 1_700_000_000.0,
                "content": {"content_type": "text", "parts": [text]},
            },
        }

    return {
        "title": title,
        "create_time": 1_700_000_000.0,
        "mapping": {
            "u1": node("u1", None, "user", "Hello?"),
            "a1": node("a1", "u1", "assistant", "Hello."),
        },
    }


def small_export() -> bytes:
    return json.dumps([_conversation("Small")]).encode()


def write_bomb(path: Path, inflated_bytes: int) -> int:
    """A zip whose one member is a valid export padded to ``inflated_bytes``."""
    head = b"[" + json.dumps(_conversation("Bomb")).encode()
    tail = b"]"
    padding = inflated_bytes - len(head) - len(tail)
    blank = b" " * _CHUNK
    tmp = path.with_suffix(".partial")
    with (
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("conversations.json", "w", force_zip64=True) as member,
    ):
        member.write(head)
        for _ in range(padding // _CHUNK):
            member.write(blank)
        member.write(b" " * (padding % _CHUNK))
        member.write(tail)
    tmp.rename(path)
    return inflated_bytes


class InflationCounter:
    """Counts every byte zipfile inflates, in this process."""

    def __init__(self) -> None:
        self.bytes = 0
        self._original: Any = None

    def __enter__(self) -> InflationCounter:
        original = zipfile.ZipExtFile._read1  # type: ignore[attr-defined]
        counter = self

        def counted(self: zipfile.ZipExtFile, n: int) -> bytes:
            data: bytes = original(self, n)
            counter.bytes += len(data)
            return data

        self._original = original
        zipfile.ZipExtFile._read1 = counted  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        zipfile.ZipExtFile._read1 = self._original  # type: ignore[attr-defined]


async def _run(uri: str, bomb: Path, inflated: int, concurrent: int, temp_dir: Path | None) -> None:
    from resolvers.adapters.services import Services
    from resolvers.importing import operation as imports
    from resolvers.importing.operation import ImportAdmission, import_conversations
    from storage.database import connect
    from storage.indexes import ensure_indexes

    database = connect(uri, db_name="bench_bomb")
    await ensure_indexes(database)
    services = Services(database=database)
    if temp_dir is not None and hasattr(imports, "configure_imports"):
        # Where the inflated members are spooled (checkouts before the spool ignore it).
        imports.configure_imports(services, imports.ImportOptions(temp_dir=temp_dir))

    async def one_bomb() -> None:
        await import_conversations(
            services, ImportAdmission.unmetered(BOMB_USER), lambda: bomb.open("rb")
        )

    with InflationCounter() as counter:
        started = time.perf_counter()
        cpu = time.process_time()
        await one_bomb()
        cpu = time.process_time() - cpu
        alone = time.perf_counter() - started
    print(
        f"one bomb ({bomb.stat().st_size / 1e6:.1f} MB zip -> {inflated / 1e6:.0f} MB): "
        f"{alone:.2f} s wall, {cpu:.2f} s CPU (gateway process, all threads), "
        f"inflated {counter.bytes / 1e6:.0f} MB = {counter.bytes / inflated:.2f} passes"
    )

    small = small_export()
    small_done: list[float] = []

    async def small_import() -> None:
        # Starts once every bomb is under way (or queued).
        await asyncio.sleep(0.2)
        begun = time.perf_counter()
        await import_conversations(
            services, ImportAdmission.unmetered(OTHER_USER), lambda: io.BytesIO(small)
        )
        small_done.append(time.perf_counter() - begun)

    started = time.perf_counter()
    await asyncio.gather(*(one_bomb() for _ in range(concurrent)), small_import())
    total = time.perf_counter() - started
    print(
        f"{concurrent} bombs of one user at once: {total:.2f} s in all; "
        f"another user's {len(small)} B import took {small_done[0]:.2f} s"
    )
    await database.client.drop_database("bench_bomb")
    await database.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inflated-mb", type=int, default=1_000)
    parser.add_argument("--concurrent", type=int, default=6)
    parser.add_argument(
        "--temp-dir",
        type=Path,
        default=None,
        help="where the import spools inflated members (CONVERSATION_IMPORT_TEMP_DIR)",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "convos-bench-bomb"
    )
    args = parser.parse_args(argv)
    inflated = args.inflated_mb * 1_000_000
    args.data_dir.mkdir(parents=True, exist_ok=True)
    bomb = args.data_dir / f"bomb-{args.inflated_mb}mb.zip"
    if not bomb.exists():
        write_bomb(bomb, inflated)

    from storage.embedded import EmbeddedServer

    with (
        tempfile.TemporaryDirectory(prefix="bench-bomb-db-") as directory,
        EmbeddedServer(Path(directory) / "db") as server,
    ):
        asyncio.run(_run(server.uri, bomb, inflated, args.concurrent, args.temp_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
