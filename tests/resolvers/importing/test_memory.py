"""Memory stays flat however many conversations a file holds.

Measured with tracemalloc (allocations, not time): the peak while reading a
file of 8,000 conversations must not be a multiple of the peak for 2,000.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.gen_chatgpt_export import write_export
from resolvers.importing import iter_import, validate_import
from tests.utils.imports import NOW, USER, open_file


def _export(directory: Path, conversations: int) -> Path:
    path = directory / f"export-{conversations}.json"
    with path.open("w", encoding="utf-8") as out:
        write_export(out, conversations, 2)
    return path


def _peak_bytes(run: Callable[[Path], object], path: Path) -> int:
    """The peak of memory allocated while ``run(path)`` runs, above what was live before."""
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        run(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - baseline


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    directory = tmp_path_factory.mktemp("exports")
    return {count: _export(directory, count) for count in (20, 2_000, 8_000)}


def _validate(path: Path) -> object:
    return validate_import(open_file(path))


def _import(path: Path) -> object:
    # Each conversation is dropped once counted, as a batching writer does.
    return sum(len(p.messages) for p in iter_import(open_file(path), USER, NOW))


@pytest.mark.parametrize("run", [_validate, _import], ids=["validation", "import"])
def test_memory_does_not_grow_with_the_number_of_conversations(
    exports: dict[int, Path], run: Callable[[Path], object]
) -> None:
    # Warm up on a small file: first-use allocations (caches, interned
    # strings) belong to neither measurement.
    run(exports[20])

    small = _peak_bytes(run, exports[2_000])
    large = _peak_bytes(run, exports[8_000])

    print(f"peak: {small / 1024:.0f} KiB for 2,000, {large / 1024:.0f} KiB for 8,000")
    assert large < 2 * small, (small, large)


def test_the_large_export_is_read_whole(exports: dict[int, Path]) -> None:
    summary = validate_import(open_file(exports[8_000]))

    assert (summary.conversations, summary.messages) == (8_000, 16_000)
