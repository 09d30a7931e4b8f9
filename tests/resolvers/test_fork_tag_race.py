"""A tag changed while a fork or duplicate is being written never dangles on the copy.

The copy is read, then written; a tag deleted or renamed in between used to
stay on the copy under its old name with no tag document. The interleaving is
forced, not timed: the operation is paused right after it read the source, the
tag is changed by the real operation, then the copy is let go.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from resolvers.adapters.services import Services
from resolvers.operations import fork
from resolvers.operations import tags as tag_ops
from resolvers.operations.fork import ConversationCopy, admit_fork
from storage.database import Database, Document
from tests.utils.factories import ALICE, insert_conversation, insert_thread
from tests.utils.invariants import check_invariants


class Pause:
    """Holds the operation between reading its source and writing the copy."""

    def __init__(self) -> None:
        self.loaded = asyncio.Event()
        self.go = asyncio.Event()


@pytest.fixture
def pause(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pause]:
    gate = Pause()
    load = fork._load

    async def paused_load(*args: Any) -> tuple[Document, list[Document]]:
        result = await load(*args)
        gate.loaded.set()
        await gate.go.wait()
        return result

    monkeypatch.setattr(fork, "_load", paused_load)
    yield gate
    gate.go.set()


async def _source(database: Database) -> tuple[str, str]:
    doc = await insert_conversation(database, ALICE, title="Plan", tags=["work", "keep"])
    cid = doc["conversationId"]
    messages = await insert_thread(database, ALICE, cid, ["question", "answer"])
    return cid, messages[-1]["messageId"]


Copier = Callable[[Services, str, str], Awaitable[ConversationCopy]]


async def _fork(services: Services, cid: str, message_id: str) -> ConversationCopy:
    admission = await admit_fork(services, ALICE, client_ip=None)
    return await fork.fork_conversation(
        services, admission, conversation_id=cid, message_id=message_id
    )


async def _duplicate(services: Services, cid: str, message_id: str) -> ConversationCopy:
    admission = await admit_fork(services, ALICE, client_ip=None)
    return await fork.duplicate_conversation(services, admission, conversation_id=cid)


async def _while_paused(
    pause: Pause, copier: Copier, services: Services, source: tuple[str, str], change: Any
) -> Document:
    running = asyncio.create_task(copier(services, *source))
    await pause.loaded.wait()
    await change
    pause.go.set()
    copy = await running
    stored = await services.database.conversations.find_one(
        {"conversationId": copy.conversation["conversationId"]}
    )
    assert stored is not None
    assert stored["tags"] == copy.conversation["tags"]
    return stored


@pytest.mark.parametrize("copier", [_fork, _duplicate], ids=["fork", "duplicate"])
async def test_a_tag_deleted_while_a_copy_is_written_is_not_on_the_copy(
    database: Database, pause: Pause, copier: Copier
) -> None:
    services = Services(database=database)
    await tag_ops.ensure_tags(services, ALICE, ["work", "keep"])
    source = await _source(database)
    stored = await _while_paused(
        pause, copier, services, source, tag_ops.delete_tag(services, ALICE, tag="work")
    )
    assert stored["tags"] == ["keep"]
    await check_invariants(database, ALICE)
    keep = await database.tags.find_one({"user": ALICE, "tag": "keep"})
    assert keep is not None and keep["count"] == 2


async def test_a_tag_renamed_while_a_copy_is_written_is_renamed_on_the_copy(
    database: Database, pause: Pause
) -> None:
    services = Services(database=database)
    await tag_ops.ensure_tags(services, ALICE, ["work", "keep"])
    source = await _source(database)
    rename = tag_ops.update_tag(services, ALICE, tag="work", new_name="job")
    stored = await _while_paused(pause, _duplicate, services, source, rename)
    assert stored["tags"] == ["job", "keep"]
    await check_invariants(database, ALICE)


async def test_a_source_deleted_while_its_copy_is_written_leaves_only_existing_tags(
    database: Database, pause: Pause
) -> None:
    services = Services(database=database)
    await tag_ops.ensure_tags(services, ALICE, ["work", "keep"])
    source = await _source(database)

    async def delete_source_and_tag() -> None:
        await tag_ops.delete_tag(services, ALICE, tag="work")
        await database.conversations.delete_one({"conversationId": source[0]})

    stored = await _while_paused(pause, _duplicate, services, source, delete_source_and_tag())
    assert stored["tags"] == ["keep"]
    await check_invariants(database, ALICE)
