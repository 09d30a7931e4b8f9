"""A stale search index costs speed, never correctness (issue 10, item 2).

The index here follows no feed, so it keeps what it saw at its build while
MongoDB changes under it: every test writes straight to MongoDB after the
build and checks that the page shows MongoDB's truth. The last tests pin
how the indexed page is read (its matches through the conversationId
index, no regex) and that an index file of an older layout is rebuilt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bson import ObjectId

from resolvers.adapters.services import Services
from resolvers.operations.conversations import ListQuery, list_conversations
from storage.database import Database, connect
from storage.search_index import SearchIndex
from tests.utils.commands import CommandLog
from tests.utils.factories import ALICE, BASE_TIME, conversation_doc, message_doc


async def _seed(database: Database, titles: list[str]) -> list[dict[str, Any]]:
    docs = [conversation_doc(ALICE, title=t, _id=ObjectId(), updatedAt=BASE_TIME) for t in titles]
    await database.conversations.insert_many([dict(d) for d in docs])
    return docs


async def _listed(database: Database, index: SearchIndex, term: str) -> tuple[list[str], int]:
    services = Services(database=database, search_index=index)
    page = await list_conversations(services, ALICE, ListQuery(search=term, limit=50))
    return sorted(d["title"] for d in page.items), await page.total()


async def test_a_title_renamed_behind_the_index_is_no_longer_a_hit(
    database: Database, index: SearchIndex
) -> None:
    docs = await _seed(database, ["wombat stew", "otter pie"])
    await index.rebuild(database)
    await database.conversations.update_one(
        {"_id": docs[0]["_id"]}, {"$set": {"title": "lentil stew"}}
    )

    titles, _ = await _listed(database, index, "wombat")

    assert titles == []


async def test_a_message_deleted_behind_the_index_makes_no_hit(
    database: Database, index: SearchIndex
) -> None:
    docs = await _seed(database, ["first", "second"])
    message = message_doc(ALICE, docs[1]["conversationId"], text="a quokka here", _id=ObjectId())
    await database.messages.insert_one(dict(message))
    await index.rebuild(database)
    assert (await _listed(database, index, "quokka"))[0] == ["second"]

    await database.messages.delete_one({"_id": message["_id"]})

    titles, _ = await _listed(database, index, "quokka")
    assert titles == []


async def test_a_conversation_the_index_never_saw_is_not_taken_for_a_match_when_most_match(
    database: Database, index: SearchIndex
) -> None:
    # Most of the user's conversations match, so the page excludes the few
    # that do not; one the index never saw must not slip through as a match.
    await _seed(database, ["kiwi one", "kiwi two", "kiwi three"])
    await index.rebuild(database)
    unseen = conversation_doc(
        ALICE, title="banana", _id=ObjectId.from_datetime(BASE_TIME), updatedAt=BASE_TIME
    )
    await database.conversations.insert_one(dict(unseen))

    titles, _ = await _listed(database, index, "kiwi")

    assert titles == ["kiwi one", "kiwi three", "kiwi two"]


async def test_archived_and_other_users_conversations_stay_out_of_indexed_results(
    database: Database, index: SearchIndex
) -> None:
    await _seed(database, ["heron a", "heron b"])
    archived = conversation_doc(ALICE, title="heron archived", isArchived=True, _id=ObjectId())
    other = conversation_doc("6b0a7813319bf155c7d4835f", title="heron other", _id=ObjectId())
    await database.conversations.insert_many([dict(archived), dict(other)])
    await index.rebuild(database)

    assert await _listed(database, index, "HERON") == (["heron a", "heron b"], 2)


async def test_the_indexed_page_reads_its_matches_by_id_without_a_regex(
    mongo_uri: str, db_name: str, database: Database, index: SearchIndex
) -> None:
    # The first stage is a lone $in on conversationId: the one shape every
    # server answers from an index (inside the filter's $and SecantusDB scans
    # the collection and tests each id against every document).
    docs = await _seed(database, [f"plain {i}" for i in range(20)])
    await database.messages.insert_one(
        message_doc(ALICE, docs[3]["conversationId"], text="one ibex", _id=ObjectId())
    )
    await index.rebuild(database)
    log = CommandLog()
    watched = connect(mongo_uri, db_name=db_name, event_listeners=[log])
    try:
        services = Services(database=watched, search_index=index)
        page = await list_conversations(services, ALICE, ListQuery(search="ibex", limit=10))
        assert [d["title"] for d in page.items] == ["plain 3"]
        assert await page.total() == 1
        commands = log.take()
    finally:
        await watched.close()

    pipelines = [body["pipeline"] for name, body in commands if name == "aggregate"]
    assert pipelines, commands
    for pipeline in pipelines:
        assert pipeline[0] == {"$match": {"conversationId": {"$in": [docs[3]["conversationId"]]}}}
    assert "$regex" not in repr(commands)


async def test_an_index_file_of_an_older_layout_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "search.sqlite3"
    first = SearchIndex(path)
    first._mark_built()  # built, but by a version without the schema mark
    first.close()

    reopened = SearchIndex(path)
    try:
        assert reopened.ready is False
    finally:
        reopened.close()
