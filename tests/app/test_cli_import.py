"""`convos-gateway import FILE --user ID`: the same import as the API, from a
terminal, on MONGO_URI or the embedded database, with a progress bar."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pymongo import MongoClient

from app.cli import ProgressBar, main
from resolvers.importing import ImportFormat, ImportSummary
from resolvers.importing.operation import ImportProgress
from storage.database import Database
from storage.embedded import EmbeddedServer
from tests.utils.factories import ALICE, fingerprint, insert_conversation
from tests.utils.imports import FIXTURES, stored_imports

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def on_test_database(monkeypatch: pytest.MonkeyPatch, mongo_uri: str, db_name: str) -> None:
    monkeypatch.setenv("MONGO_URI", mongo_uri)
    monkeypatch.setenv("MONGO_DB_NAME", db_name)


async def run_cli(*args: str) -> int:
    # main() runs its own event loop, so it gets a thread of its own.
    return await asyncio.to_thread(main, list(args))


async def test_import_writes_the_file_for_the_user(
    on_test_database: None, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await run_cli("import", str(FIXTURES / "chatgpt.json"), "--user", ALICE)

    assert code == 0
    out, err = capsys.readouterr()
    assert "Imported 5 conversations (19 messages) for user " + ALICE in out
    assert "Skipped 1 conversations with no message to show" in out
    assert "valid: 5 conversations, 19 messages (chatgpt)" in err
    titles = [p.conversation["title"] for p in await stored_imports(database, ALICE)]
    assert titles == [
        "Pasta al dente",
        "Fibonacci in Python",
        "Weather in Paris",
        "What breed is this cat?",
        "Haiku",
    ]


async def test_a_malformed_file_exits_1_and_writes_nothing(
    on_test_database: None, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    await insert_conversation(database, ALICE, title="Before")
    before = await fingerprint(database)

    code = await run_cli(
        "import", str(FIXTURES / "malformed" / "chatgpt_cycle.json"), "--user", ALICE
    )

    assert code == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith('nothing imported: Conversation 1 ("Loop"): mapping.u.parent forms a cycle')
    )
    assert await fingerprint(database) == before


async def test_a_missing_file_or_empty_user_exits_2(
    on_test_database: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert await run_cli("import", str(tmp_path / "nope.json"), "--user", ALICE) == 2
    assert "no such file" in capsys.readouterr().err
    assert await run_cli("import", str(FIXTURES / "claude.json"), "--user", " ") == 2
    assert "--user must not be empty" in capsys.readouterr().err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_shows_validation_then_writes() -> None:
    out = Terminal()
    bar = ProgressBar(out, file_size=2_000_000)
    bar.INTERVAL_S = 0.0

    bar.read(1_000_000)
    bar.validated(ImportSummary(conversations=2, messages=4, formats=(ImportFormat.CLAUDE,)))
    bar.wrote(ImportProgress(conversations=1, messages=2, total_conversations=2, total_messages=4))
    bar.wrote(ImportProgress(conversations=2, messages=4, total_conversations=2, total_messages=4))

    screen = out.getvalue()
    assert "[###############...............]  50% validating 1.0/2.0 MB" in screen
    assert "valid: 2 conversations, 4 messages (claude)\n" in screen
    assert "1/2 conversations, 2/4 messages written" in screen
    assert "[##############################] 100% 2/2 conversations, 4/4 messages written" in screen
    assert screen.endswith("\n")


def test_off_a_terminal_only_whole_lines_are_printed() -> None:
    out = io.StringIO()
    bar = ProgressBar(out, file_size=10)

    bar.read(5)
    bar.validated(ImportSummary(conversations=1, messages=2, formats=(ImportFormat.CLAUDE,)))
    bar.wrote(ImportProgress(conversations=1, messages=2, total_conversations=1, total_messages=2))

    assert out.getvalue() == "valid: 1 conversations, 2 messages (claude)\n"


def test_without_mongo_uri_the_embedded_database_is_used(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"MONGO_URI", "MONGODB_URI"}} | {
        "CONVOS_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }

    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "import", str(FIXTURES / "claude.json"), "--user", ALICE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Imported 2 conversations" in result.stdout
    with EmbeddedServer(tmp_path / "db") as server:
        client: MongoClient[dict[str, object]] = MongoClient(server.uri)
        try:
            stored = client["LibreChat"]["conversations"].count_documents({"user": ALICE})
        finally:
            client.close()
    assert stored == 2
