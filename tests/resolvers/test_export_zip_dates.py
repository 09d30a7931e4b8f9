"""A zip export of conversations dated outside the zip format's years
(1980-2107) still streams: each member's date is clamped, the JSON keeps the
real dates. Found by the round-trip property (a ChatGPT file dated 2200)."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import datetime

import orjson
import pytest

from resolvers.adapters.services import Services
from resolvers.exporting.formats import ExportFormat
from resolvers.exporting.operation import ExportAdmission, export_conversations
from resolvers.operations.conversations import ListQuery
from resolvers.operations.selection import Selection
from storage.database import Database
from tests.utils.factories import conversation_doc, message_doc
from tests.utils.imports import import_all, open_bytes


@pytest.mark.parametrize("fmt", [ExportFormat.LIBRECHAT, ExportFormat.MARKDOWN])
async def test_zip_export_of_conversations_dated_outside_the_zip_years_streams(
    database: Database, fmt: ExportFormat
) -> None:
    user = uuid.uuid4().hex[:24]
    for when, title in ((datetime(2200, 1, 1), "future"), (datetime(1900, 1, 1), "past")):
        conversation = conversation_doc(user, title=title, createdAt=when, updatedAt=when)
        await database.conversations.insert_one(conversation)
        await database.messages.insert_one(
            message_doc(user, conversation["conversationId"], text=title, created_at=when)
        )

    stream = await export_conversations(
        Services(database=database),
        ExportAdmission.unmetered(user),
        selection=Selection(filter=ListQuery()),
        fmt=fmt,
    )
    data = b"".join([part async for part in stream.chunks])

    archive = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(info.date_time[0] for info in archive.infolist()) == [1980, 2107]
    if fmt is ExportFormat.LIBRECHAT:
        dates = {
            orjson.loads(archive.read(name))["options"]["updatedAt"] for name in archive.namelist()
        }
        assert dates == {"2200-01-01T00:00:00.000Z", "1900-01-01T00:00:00.000Z"}
        assert sorted(p.conversation["title"] for p in import_all(open_bytes(data))) == [
            "future",
            "past",
        ]
