"""bench/import.py runs end to end on a tiny export (the figures are not checked:
benchmarks never gate on wall-clock time)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

# `import` is a keyword: the module is loaded by name, as `python -m` does.
bench_import = importlib.import_module("bench.import")


def test_the_benchmark_prints_a_row_with_its_ratio_and_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_import.main(["--sizes", "40x2", "--data-dir", str(tmp_path)]) == 0

    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.strip().startswith("40x2"))
    assert re.search(r"\d+\.\d\dx\s+-?\d+\.\d$", row), row
    assert (tmp_path / "chatgpt-40x2.json").exists()


@pytest.mark.slow
def test_import_memory_stays_flat_as_the_file_grows(tmp_path: Path, run_slow: bool) -> None:
    """Peak RSS growth of an import (a fresh process each) does not follow the
    file: 6x to 8x the conversations add at most what their new ids take."""
    # Bounded: 1,200 conversations (about 15 s of inserts on the embedded database).
    small, large = (5_000, 40_000) if run_slow else (200, 1_200)
    growth = {}
    for conversations in (small, large):
        export = bench_import._export(tmp_path, conversations, 4)
        measure = bench_import._measure("import", export, bench_import.BATCH_MESSAGES)
        assert measure.conversations == conversations
        growth[conversations] = measure.rss_growth_mb

    assert all(mb < 64 for mb in growth.values()), growth
    assert growth[large] < growth[small] + 16, growth
