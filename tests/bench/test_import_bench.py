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
