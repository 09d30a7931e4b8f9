"""Property: for every format the import reads, a random upload imported,
exported in LibreChat's format and imported again as another user gives the
same conversations, messages, tree and tags as the first import.

Both imports run through the real import operation on the embedded
database; the export through the real export operation. Ids are new on each
import, so trees are compared by shape: each message with its children in the
order LibreChat shows them (``createdAt``, ties in stored order).
"""

from __future__ import annotations

import uuid
from operator import itemgetter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolvers.adapters.services import Services
from resolvers.exporting.formats import ExportFormat
from resolvers.exporting.operation import ExportAdmission, export_conversations
from resolvers.importing import NO_PARENT, ParsedConversation
from resolvers.importing.operation import ImportAdmission, import_conversations
from resolvers.operations.conversations import ListQuery
from resolvers.operations.selection import Selection
from storage.database import Database
from tests.utils.import_formats import WRITERS, Convo, conversations
from tests.utils.imports import open_bytes, stored_imports

FORMATS = sorted(WRITERS)
# Fields that name a document rather than describe it: new on every import.
_IDS = {"_id", "messageId", "conversationId", "user", "parentMessageId", "messages"}
# A LibreChat file's conversation is dated by its earliest message, as
# LibreChat's own import does, not by ``options.createdAt``: a ChatGPT or
# Claude conversation created before its first message comes back later.
_CONVERSATION_DATES = {"createdAt", "updatedAt"}

uploads = st.lists(conversations(), min_size=1, max_size=3)
BOUNDED = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LARGE = settings(BOUNDED, max_examples=200)


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _described(doc: dict[str, Any], leave_out: set[str] = _IDS) -> tuple[Any, ...]:
    return _frozen({k: v for k, v in doc.items() if k not in leave_out})


def _shape(parsed: ParsedConversation) -> tuple[Any, ...]:
    """The conversation's fields and its message tree, without any id.

    ``parsed.messages`` are in stored (``_id``) order, and the sort is stable.
    """
    children: dict[str, list[dict[str, Any]]] = {}
    for message in sorted(parsed.messages, key=itemgetter("createdAt")):
        children.setdefault(message["parentMessageId"], []).append(message)

    def node(message: dict[str, Any]) -> tuple[Any, ...]:
        kids = tuple(node(c) for c in children.get(message["messageId"], []))
        return (_described(message), kids)

    roots = tuple(node(m) for m in children.get(NO_PARENT, []))
    return (_described(parsed.conversation, _IDS | _CONVERSATION_DATES), roots)


async def _tag_counts(database: Database, user: str) -> dict[str, int]:
    return {t["tag"]: t["count"] async for t in database.tags.find({"user": user})}


async def _export(services: Services, user: str) -> bytes:
    stream = await export_conversations(
        services,
        ExportAdmission.unmetered(user),
        selection=Selection(filter=ListQuery()),
        fmt=ExportFormat.LIBRECHAT,
        chunk=2,
    )
    return b"".join([part async for part in stream.chunks])


async def _round_trip(database: Database, fmt: str, convos: list[Convo]) -> None:
    services = Services(database=database)
    first, second = uuid.uuid4().hex[:24], uuid.uuid4().hex[:24]
    await import_conversations(
        services, ImportAdmission.unmetered(first), open_bytes(WRITERS[fmt](convos))
    )
    imported = await stored_imports(database, first)
    assert len(imported) == len(convos)

    await import_conversations(
        services, ImportAdmission.unmetered(second), open_bytes(await _export(services, first))
    )
    again = await stored_imports(database, second)

    assert sorted(map(_shape, again), key=repr) == sorted(map(_shape, imported), key=repr)
    assert await _tag_counts(database, second) == await _tag_counts(database, first)
    # Every message came back, none twice (a shape repeats under a parent as a set).
    assert sum(len(p.messages) for p in again) == sum(len(p.messages) for p in imported)


@pytest.mark.parametrize("fmt", FORMATS)
@given(convos=uploads)
@BOUNDED
async def test_export_of_an_import_imports_back_to_the_same_conversations(
    database: Database, fmt: str, convos: list[Convo]
) -> None:
    await _round_trip(database, fmt, convos)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
@given(convos=uploads)
@LARGE
async def test_export_of_an_import_imports_back_to_the_same_conversations_at_length(
    database: Database, fmt: str, convos: list[Convo], run_slow: bool
) -> None:
    if not run_slow:
        pytest.skip("200 examples per format need --run-slow (make test-slow)")
    await _round_trip(database, fmt, convos)
