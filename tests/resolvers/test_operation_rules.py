"""Rules that live in the operations, so every edge (REST, GraphQL, the CLI)
gets them: the delete-needs-a-target check, the list item defaults, and the
fork admission being spent once."""

from __future__ import annotations

import pytest

from resolvers.adapters.services import Services
from resolvers.operations import conversations as ops
from resolvers.operations import fork as fork_ops
from resolvers.operations.errors import BadInput
from storage.database import Database
from tests.utils.factories import ALICE, insert_conversation, snapshot


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"conversation_id": None}, "no parameters provided"),
        ({"conversation_id": ""}, "no parameters provided"),
        ({"conversation_id": None, "thread_id": "thread_1"}, "conversationId is required"),
        ({"conversation_id": None, "source": "button"}, "conversationId is required"),
    ],
)
async def test_delete_without_a_target_is_refused_by_the_operation_itself(
    database: Database, arguments: dict[str, str | None], error: str
) -> None:
    await insert_conversation(database, ALICE)
    before = await snapshot(database)
    with pytest.raises(BadInput) as refused:
        await ops.delete_conversation(Services(database=database), ALICE, **arguments)
    assert refused.value.message == error
    assert await snapshot(database) == before


async def test_list_items_default_what_an_old_document_lacks_and_cursors_keep_stored_values(
    database: Database,
) -> None:
    old = await insert_conversation(database, ALICE)
    await database.conversations.update_one(
        {"_id": old["_id"]},
        {"$unset": {"title": "", "endpoint": "", "model": "", "isArchived": "", "tags": ""}},
    )
    page = await ops.list_conversations(
        Services(database=database), ALICE, ops.ListQuery(sort_by="title", sort_direction="asc")
    )

    [item] = page.list_items()
    assert {k: item[k] for k in ("title", "endpoint", "model", "isArchived", "tags")} == {
        "title": "New Chat",
        "endpoint": None,
        "model": None,
        "isArchived": False,
        "tags": [],
    }
    # The stored document is untouched: a cursor after it sorts by the
    # missing title (first), not by "New Chat".
    [stored] = page.items
    assert "title" not in stored
    assert page.cursor_after(stored) != page.cursor_after({**stored, "title": "New Chat"})


async def test_a_fork_admission_is_spent_by_one_copy_only(database: Database) -> None:
    services = Services(database=database)
    source = await insert_conversation(database, ALICE)
    admission = await fork_ops.admit_fork(services, ALICE, client_ip=None)
    await fork_ops.duplicate_conversation(
        services, admission, conversation_id=source["conversationId"]
    )
    before = await snapshot(database)
    with pytest.raises(RuntimeError):
        await fork_ops.duplicate_conversation(
            services, admission, conversation_id=source["conversationId"]
        )
    assert await snapshot(database) == before
