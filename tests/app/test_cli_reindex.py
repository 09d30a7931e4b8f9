"""``convos-gateway reindex`` rebuilds the search index file from the database."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from pymongo import MongoClient

from app.cli import main
from storage.change_feed import CHECKPOINTS
from storage.database import connect
from storage.search_index import SearchIndex
from tests.utils.factories import ALICE, message_doc


def test_reindex_builds_the_index_and_records_where_the_feed_resumes(
    mongo_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_name = f"test_{uuid.uuid4().hex[:16]}"
    path = tmp_path / "index.sqlite3"
    sync: MongoClient[dict[str, object]] = MongoClient(mongo_uri)
    try:
        sync[db_name].messages.insert_many(
            [message_doc(ALICE, "c1", text="a Wombat burrow"), message_doc(ALICE, "c2", text="x")]
        )
        for name, value in {
            "MONGO_URI": mongo_uri,
            "MONGO_DB_NAME": db_name,
            "SEARCH_INDEX_PATH": str(path),
            "CONVOS_ENV": "test",
        }.items():
            monkeypatch.setenv(name, value)
        assert main(["reindex"]) == 0
        assert "Indexed 2 messages" in capsys.readouterr().out

        index = SearchIndex(path)
        assert index.ready
        assert sync[db_name][CHECKPOINTS].count_documents({"_id": index.checkpoint}) == 1

        async def search() -> list[str]:
            database = connect(mongo_uri, db_name=db_name)
            try:
                return await index.conversations_matching(database, ALICE, "WOMBAT")
            finally:
                await database.close()

        assert asyncio.run(search()) == ["c1"]
        index.close()
    finally:
        sync.drop_database(db_name)
        sync.close()
