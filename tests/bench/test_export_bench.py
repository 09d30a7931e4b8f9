"""bench/export.py runs end to end on tiny sizes (the figures are not checked:
benchmarks never gate on wall-clock time)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import export as bench_export


def test_the_export_benchmark_prints_a_row_per_format_with_ratio_and_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_export.main(["--sizes", "20x2", "--data-dir", str(tmp_path)]) == 0

    rows = [
        line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("20x2")
    ]
    assert [row.split()[3] for row in rows] == ["librechat", "markdown", "jsonl"]
    assert all(re.search(r"\d+\.\dx .* -?\d+\.\d$", row) for row in rows), rows
