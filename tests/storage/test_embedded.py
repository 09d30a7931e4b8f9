"""The embedded SecantusDB child process: start, stop, data kept across
restarts, and clear errors when it cannot start."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from app.cli import main as cli_main
from storage.database import connect
from storage.embedded import EmbeddedServer, EmbeddedServerError, free_port


async def _ping(uri: str) -> bool:
    database = connect(uri, db_name="ping", timeout_ms=300)
    try:
        await database.db.command("ping")
        return True
    except Exception:
        return False
    finally:
        await database.close()


async def test_start_serves_and_stop_ends_the_process(tmp_path: Path) -> None:
    server = EmbeddedServer(":memory:", log_path=tmp_path / "db.log")
    await asyncio.to_thread(server.start)
    try:
        assert server.running
        assert await _ping(server.uri)
    finally:
        await asyncio.to_thread(server.stop)
    assert not server.running
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=0.5).close()
    await asyncio.to_thread(server.stop)  # a second stop is harmless


async def test_data_is_kept_across_restarts(tmp_path: Path) -> None:
    storage = tmp_path / "data" / "db"
    for round_ in range(2):
        # A new port each time: the data, not the address, carries over.
        server = EmbeddedServer(storage, log_path=tmp_path / f"db{round_}.log")
        await asyncio.to_thread(server.start)
        database = connect(server.uri, db_name="kept")
        try:
            if round_ == 0:
                await database.conversations.insert_one({"conversationId": "c1", "title": "T"})
            else:
                doc = await database.conversations.find_one({"conversationId": "c1"})
                assert doc is not None and doc["title"] == "T"
        finally:
            await database.close()
            await asyncio.to_thread(server.stop)
    assert storage.is_dir() and any(storage.iterdir())


def test_port_already_taken_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmbeddedServer(":memory:", port=port, log_path=tmp_path / "db.log")
        with pytest.raises(EmbeddedServerError, match=f"127.0.0.1:{port} is already in use"):
            server.start()
        assert not server.running


def test_storage_path_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    for path in (not_a_folder, not_a_folder / "sub"):
        server = EmbeddedServer(path, log_path=tmp_path / "db.log")
        with pytest.raises(EmbeddedServerError, match="cannot use .* as the database folder"):
            server.start()
        assert not server.running


def test_launcher_exiting_early_reports_its_log(tmp_path: Path) -> None:
    storage = tmp_path / "db"
    first = EmbeddedServer(storage, log_path=tmp_path / "first.log")
    first.start()
    try:
        second = EmbeddedServer(storage, log_path=tmp_path / "second.log")
        with pytest.raises(EmbeddedServerError) as caught:
            second.start(timeout_s=30)
        message = str(caught.value)
        assert "exited with code" in message and "before it was ready" in message
        assert "already being managed by another process" in message
        assert not second.running
        assert first.running
    finally:
        first.stop()


def test_cli_serve_reports_an_unusable_database_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    holder = EmbeddedServer(data / "db", log_path=tmp_path / "holder.log")
    holder.start()
    try:
        monkeypatch.delenv("MONGO_URI", raising=False)
        monkeypatch.delenv("MONGODB_URI", raising=False)
        monkeypatch.setenv("CONVOS_DATA_DIR", str(data))
        monkeypatch.setenv("CONVOS_ENV", "development")
        code = cli_main(["serve", "--port", str(free_port())])
    finally:
        holder.stop()
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("convos-gateway: embedded database:")
    assert "Traceback" not in err.splitlines()[0]
