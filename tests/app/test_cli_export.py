"""`convos-gateway export --user ID`: the same export as the API, to a file, with a progress bar."""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

import orjson
import pytest

from app.cli import main
from app.cli_export import ExportProgressBar
from storage.database import Database
from tests.utils.factories import ALICE, BOB, insert_conversation, insert_thread


@pytest.fixture
def on_test_database(monkeypatch: pytest.MonkeyPatch, mongo_uri: str, db_name: str) -> None:
    monkeypatch.setenv("MONGO_URI", mongo_uri)
    monkeypatch.setenv("MONGO_DB_NAME", db_name)


async def run_cli(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def test_export_writes_the_users_conversations_to_the_file(
    on_test_database: None,
    database: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for title in ("one", "two"):
        doc = await insert_conversation(database, ALICE, title=title, tags=["work"])
        await insert_thread(database, ALICE, doc["conversationId"], ["q", "a"])
    await insert_conversation(database, BOB, title="bob's")
    out = tmp_path / "alice.jsonl"

    code = await run_cli("export", "--user", ALICE, "--format", "jsonl", "-o", str(out))

    assert code == 0
    assert "Exported 2 conversations to " + str(out) in capsys.readouterr().out
    titles = sorted(orjson.loads(line)["title"] for line in out.read_bytes().splitlines())
    assert titles == ["one", "two"]

    zipped = tmp_path / "alice.zip"
    assert await run_cli("export", "--user", ALICE, "--tags", "work", "-o", str(zipped)) == 0
    assert len(zipfile.ZipFile(zipped).namelist()) == 2


async def test_export_of_another_users_ids_exits_1_and_writes_no_file(
    on_test_database: None,
    database: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bobs = await insert_conversation(database, BOB)
    out = tmp_path / "x.zip"
    code = await run_cli("export", "--user", ALICE, "--ids", bobs["conversationId"], "-o", str(out))
    assert code == 1
    assert "nothing exported" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_export_progress_bar_draws_conversations_done_of_total() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    bar = ExportProgressBar(out)
    bar.exported(50, 200)
    bar.exported(200, 200)
    text = out.getvalue()
    assert " 25% 50/200 conversations exported" in text
    assert "100% 200/200 conversations exported" in text
