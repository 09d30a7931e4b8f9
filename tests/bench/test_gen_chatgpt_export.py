"""The benchmark generator writes ChatGPT exports the importer reads whole."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bench.gen_chatgpt_export import main, write_export
from resolvers.importing import ImportFormat, validate_import
from tests.utils.imports import open_file


def test_the_command_writes_n_conversations_of_m_messages(tmp_path: Path) -> None:
    out = tmp_path / "export.json"

    assert main(["--conversations", "30", "--messages", "4", str(out)]) == 0

    summary = validate_import(open_file(out))
    assert summary.formats == (ImportFormat.CHATGPT,)
    assert (summary.conversations, summary.messages) == (30, 120)


def test_a_thousand_conversations_of_two_messages_are_about_1_8_mb() -> None:
    out = io.StringIO()

    write_export(out, 1000, 2)

    assert 1.6e6 < len(out.getvalue().encode()) < 2.0e6


def test_the_same_seed_writes_the_same_file() -> None:
    first, second = io.StringIO(), io.StringIO()

    write_export(first, 5, 3, seed=7)
    write_export(second, 5, 3, seed=7)

    assert first.getvalue() == second.getvalue()
    assert len(json.loads(first.getvalue())) == 5
