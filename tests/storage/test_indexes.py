"""ensure_indexes is idempotent, tolerates LibreChat's own indexes, and every
query the gateway issues has an index to serve it.

The queries are not written out here: they are captured with a command
listener while the real operations run, so a new query shape is checked the
day it is added.

SecantusDB's planner (0.7.0b3) uses an index only for an ``_id`` lookup, an
all-equality filter on a compound index prefix, or an equality prefix plus one
trailing range/``$in`` field, and never for a filter with a top-level
``$and``/``$or`` or a predicate outside the index (it then scans). So:
``explain`` must say IXSCAN for the shapes it can plan; for the others (the
list pages, whose filters carry ``expiredAt``/``isArchived``/cursor clauses)
the test proves what MongoDB's planner needs: an equality on ``user`` and an
index whose keys are ``user`` followed by the sort's fields in its direction
(or exactly reversed), so the page is an index walk with no blocking sort.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from pymongo import ASCENDING, DESCENDING, monitoring

from resolvers.adapters.services import Services
from resolvers.graphql.loaders import make_loaders
from resolvers.operations import conversations as ops
from resolvers.operations import messages as message_ops
from resolvers.operations import tags as tag_ops
from storage.conversations import DateRange
from storage.database import Database, connect
from storage.indexes import ensure_indexes
from tests.utils.factories import ALICE, BASE_TIME, BOB, conversation_doc, insert_thread

ONE_DAY = timedelta(days=1)
READS = {"find", "aggregate", "count", "distinct", "findAndModify"}


@dataclass
class Recorder(monitoring.CommandListener):
    commands: list[dict[str, Any]] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in READS:
            command = dict(event.command)
            # writeConcern too: explain refuses it, and the gateway's writes carry j: true.
            internals = ("lsid", "$db", "$clusterTime", "txnNumber", "$readPreference")
            for internal in (*internals, "writeConcern"):
                command.pop(internal, None)
            self.commands.append(command)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def recorded(mongo_uri: str, database: Database) -> AsyncIterator[tuple[Services, Recorder]]:
    """Services on a second client of the test database that records reads."""
    recorder = Recorder()
    listening = connect(mongo_uri, db_name=database.db.name, event_listeners=[recorder])
    try:
        yield Services(database=listening), recorder
    finally:
        await listening.close()


async def _index_keys(database: Database) -> dict[str, list[list[tuple[str, int]]]]:
    result: dict[str, list[list[tuple[str, int]]]] = {}
    for coll in (database.conversations, database.messages, database.tags):
        info = await coll.index_information()
        result[coll.name] = [[(k, int(d)) for k, d in spec["key"]] for spec in info.values()]
    return result


# --- ensure_indexes ------------------------------------------------------------


async def test_ensure_indexes_twice_changes_nothing(database: Database) -> None:
    first = {
        c.name: await c.index_information()
        for c in (database.conversations, database.messages, database.tags)
    }
    await ensure_indexes(database)
    await ensure_indexes(database)
    second = {
        c.name: await c.index_information()
        for c in (database.conversations, database.messages, database.tags)
    }
    assert first == second
    assert len(first["conversations"]) > 3


async def test_librechat_indexes_with_the_same_keys_under_other_names_are_kept(
    mongo_uri: str, db_name: str
) -> None:
    database = connect(mongo_uri, db_name=db_name + "_lc")
    try:
        await database.conversations.create_index(
            [("conversationId", ASCENDING), ("user", ASCENDING)],
            unique=True,
            name="librechat_convo_user",
        )
        await database.messages.create_index(
            [("messageId", ASCENDING), ("user", ASCENDING)],
            unique=True,
            name="lc_msg",
        )
        await database.messages.create_index(
            [
                ("conversationId", ASCENDING),
                ("user", ASCENDING),
                ("createdAt", ASCENDING),
                ("_id", ASCENDING),
            ],
            name="lc_tree",
        )
        await database.tags.create_index(
            [("tag", ASCENDING), ("user", ASCENDING)],
            unique=True,
            name="lc_tag_user",
        )
        # LibreChat's TTL index on temporary chats is not ours and stays.
        await database.conversations.create_index(
            [("expiredAt", ASCENDING)],
            expireAfterSeconds=0,
            name="expiredAt_1",
        )
        await ensure_indexes(database)
        await ensure_indexes(database)
        conversations = await database.conversations.index_information()
        assert "librechat_convo_user" in conversations and "expiredAt_1" in conversations
        keys = await _index_keys(database)
        for name, patterns in keys.items():
            assert len(patterns) == len({tuple(p) for p in patterns}), name
        messages = await database.messages.index_information()
        assert {"lc_msg", "lc_tree"} <= set(messages)
        assert "lc_tag_user" in await database.tags.index_information()
    finally:
        await database.client.drop_database(db_name + "_lc")
        await database.close()


async def test_unique_indexes_hold_librechats_keys(database: Database) -> None:
    from pymongo.errors import DuplicateKeyError

    doc = conversation_doc(ALICE)
    await database.conversations.insert_one(dict(doc))
    with pytest.raises(DuplicateKeyError):
        await database.conversations.insert_one({**doc, "_id": "second"})
    # The same id for another user is allowed, as in LibreChat.
    await database.conversations.insert_one({**doc, "_id": "other", "user": BOB})
    await database.tags.insert_one({"tag": "t", "user": ALICE})
    with pytest.raises(DuplicateKeyError):
        await database.tags.insert_one({"tag": "t", "user": ALICE})


# --- every query has an index ----------------------------------------------------


async def _seed(database: Database) -> str:
    docs = [
        conversation_doc(
            ALICE,
            title=f"t{i}",
            tags=["work"] if i % 2 else [],
            archivedAt=BASE_TIME if i % 3 == 0 else None,
            isArchived=i % 3 == 0,
        )
        for i in range(12)
    ]
    docs += [conversation_doc(BOB, title=f"b{i}") for i in range(12)]
    await database.conversations.insert_many(docs)
    cid: str = docs[1]["conversationId"]
    await insert_thread(database, ALICE, cid, ["hello", "world"])
    return cid


def _filter_of(command: Mapping[str, Any]) -> dict[str, Any]:
    if "filter" in command:
        return dict(command["filter"])
    if "query" in command:
        return dict(command["query"] or {})
    if "pipeline" in command:
        first = command["pipeline"][0]
        return dict(first.get("$match", {}))
    return {}


def _equalities(flt: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level equality conditions, looking inside a top-level ``$and``."""
    result: dict[str, Any] = {}
    for key, value in flt.items():
        if key == "$and":
            for clause in value:
                result.update(_equalities(clause))
        elif not key.startswith("$") and not isinstance(value, dict):
            result[key] = value
        elif isinstance(value, dict) and set(value) == {"$eq"}:
            result[key] = value["$eq"]
    return result


def _serves(pattern: list[tuple[str, int]], sort: list[tuple[str, int]]) -> bool:
    """An index on ``user`` then the sort fields, all in order or all reversed."""
    if not pattern or pattern[0][0] != "user":
        return False
    rest = pattern[1 : 1 + len(sort)]
    if [f for f, _ in rest] != [f for f, _ in sort]:
        return False
    same = all(d == s for (_, d), (_, s) in zip(rest, sort, strict=True))
    flipped = all(d == -s for (_, d), (_, s) in zip(rest, sort, strict=True))
    return same or flipped


LIST_SHAPES = [
    ops.ListQuery(sort_by=s, sort_direction=d, **extra)
    for s in ("updatedAt", "createdAt", "title", "archivedAt")
    for d in ("asc", "desc")
    for extra in (
        {},
        {"is_archived": True},
        {"tags": ["work"]},
        {"pinned": True},
        {"search": "hello"},
        {"page_number": 2, "limit": 2},
        {"dates": DateRange(created_after=BASE_TIME, created_before=BASE_TIME + ONE_DAY)},
        {"dates": DateRange(updated_after=BASE_TIME, updated_before=BASE_TIME + ONE_DAY)},
    )
]


async def test_every_list_page_is_an_index_walk_on_user_and_its_sort(
    database: Database, recorded: tuple[Services, Recorder]
) -> None:
    services, recorder = recorded
    await _seed(database)
    for query in LIST_SHAPES:
        page = await ops.list_conversations(services, ALICE, query)
        if page.next_cursor is None:
            page = await ops.list_conversations(
                services,
                ALICE,
                ops.ListQuery(sort_by=query.sort_by, sort_direction=query.sort_direction, limit=1),
            )
        assert page.next_cursor is not None
        await ops.list_conversations(
            services,
            ALICE,
            ops.ListQuery(
                sort_by=query.sort_by,
                sort_direction=query.sort_direction,
                cursor=page.next_cursor,
                limit=1,
            ),
        )
    indexes = await _index_keys(database)
    finds = [c for c in recorder.commands if "find" in c and c["find"] == "conversations"]
    assert len(finds) >= len(LIST_SHAPES) * 2
    for command in finds:
        assert _equalities(_filter_of(command)).get("user") == ALICE, command
        sort = [(f, int(d)) for f, d in command["sort"].items()]
        assert any(_serves(p, sort) for p in indexes["conversations"]), (sort, command)
    for command in recorder.commands:
        # Counts and message searches: at least the user prefix.
        coll = command.get("aggregate") or command.get("count") or command.get("distinct")
        if coll is None:
            continue
        assert _equalities(_filter_of(command)).get("user") == ALICE, command
        assert any(p[0][0] == "user" for p in indexes[coll]), command


async def _winning_stage(database: Database, command: dict[str, Any]) -> str:
    explained = await database.db.command({"explain": command})
    planner = explained.get("queryPlanner")
    if planner is None:  # aggregate: the first stage's planner
        planner = explained["stages"][0]["$cursor"]["queryPlanner"]
    return str(planner["winningPlan"])


async def test_point_reads_tag_reads_and_message_loads_explain_as_ixscan(
    database: Database, recorded: tuple[Services, Recorder]
) -> None:
    services, recorder = recorded
    cid = await _seed(database)
    await tag_ops.create_tag(services, ALICE, tag="work")
    recorder.commands.clear()

    await ops.get_conversation(services, ALICE, conversation_id=cid)
    await ops.update_title(services, ALICE, conversation_id=cid, title="renamed")
    await ops.archive(services, ALICE, conversation_id=cid, is_archived=True)
    await ops.pin(services, ALICE, conversation_id=cid, pinned=True)
    await tag_ops.list_tags(services, ALICE)
    await tag_ops.add_conversation_tag(services, ALICE, conversation_id=cid, tag="work")
    await tag_ops.set_conversation_tags(services, ALICE, conversation_id=cid, tags=["work", "new"])
    await tag_ops.update_tag(services, ALICE, tag="new", new_name="newer")
    await make_loaders(services, ALICE).messages.load(cid)

    indexes = await _index_keys(database)
    ixscans = 0
    for command in recorder.commands:
        if "distinct" in command:
            continue
        stage = await _winning_stage(database, command)
        coll = command[next(iter(command))]
        flt = _filter_of(command)
        if "IXSCAN" in stage:
            ixscans += 1
            continue
        # Beyond SecantusDB's planner, by its rules: a `$ne` ("does another
        # user own it?") or an `$in` on a field that is not the index's
        # trailing one (tags by name: LibreChat's unique key is (tag, user)).
        # MongoDB bounds every field of an index whose leading keys are the
        # filter's fields, in any order: require that index.
        assert any(isinstance(v, dict) and ({"$ne", "$in"} & set(v)) for v in flt.values()), (
            stage,
            command,
        )
        fields = set(flt)
        assert any({f for f, _ in p[: len(fields)]} == fields for p in indexes[coll]), command
    assert ixscans >= 8


@pytest.mark.parametrize("direction", [ASCENDING, DESCENDING])
async def test_explain_reports_collscan_without_an_index(
    database: Database, direction: int
) -> None:
    """The check above can fail: an unindexed filter explains as COLLSCAN."""
    await database.conversations.insert_one(conversation_doc(ALICE))
    stage = await _winning_stage(
        database,
        {"find": "conversations", "filter": {"model": "gpt-4o"}, "sort": {"model": direction}},
    )
    assert "COLLSCAN" in stage


async def test_message_pages_walk_the_conversation_index(
    database: Database, recorded: tuple[Services, Recorder]
) -> None:
    """GET /api/messages and messagesConnection in creation order: an equality on
    (conversationId, user) and the tree-order index's trailing keys as the sort."""
    services, recorder = recorded
    cid = await _seed(database)
    first = await message_ops.message_page(
        services, ALICE, conversation_id=cid, size=1, sort_by="createdAt", sort_direction="asc"
    )
    assert first.next_cursor is not None
    await message_ops.message_page(
        services,
        ALICE,
        conversation_id=cid,
        size=1,
        cursor=first.next_cursor,
        sort_by="createdAt",
        sort_direction="asc",
    )
    pages = [c for c in recorder.commands if c.get("find") == "messages"]
    assert len(pages) == 2
    tree_index = [("conversationId", 1), ("user", 1), ("createdAt", 1), ("_id", 1)]
    assert tree_index in (await _index_keys(database))["messages"]
    for command in pages:
        flt = _filter_of(command)
        assert (flt["conversationId"], flt["user"]) == (cid, ALICE), command
        assert [(f, int(d)) for f, d in command["sort"].items()] == tree_index[2:]
    assert "IXSCAN" in await _winning_stage(database, pages[0])
