"""The built-in sample: a dozen conversations a first run shows.

``sample/`` holds one file per conversation in LibreChat's own export format
("Export -> JSON" with branches: ``options`` plus a ``messagesTree``), written
for this project. Loading it is an ordinary import
(:func:`resolvers.importing.operation.import_conversations`) of a zip made of
those files, so the sample also exercises the import; the state an import
never takes from a file (``options.isArchived``, ``options.pinned``) is then
applied with the same operations the edges call.

The files' times end at :data:`SAMPLE_NOW`; they are moved forward so the
newest conversation is as recent as it was then, and a list grouped by date
("today", "previous 7 days") looks like a lived-in account.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Final

from resolvers.adapters.services import Services
from resolvers.importing.operation import ImportAdmission, import_conversations
from resolvers.operations import conversations as conversation_ops
from resolvers.operations.clock import iso, parse_iso, utcnow
from storage import samples as sample_store

__all__ = ["SAMPLE_NOW", "SampleResult", "load_on_first_run", "load_sample", "reset_sample"]

# The "now" the sample files were written against (naive UTC).
SAMPLE_NOW: Final = datetime(2026, 1, 15, 12, 0)
_TIME_FIELDS: Final = ("createdAt", "updatedAt", "exportAt")


@dataclass(frozen=True, slots=True)
class SampleResult:
    """What loading the sample wrote."""

    conversations: int
    messages: int
    tags: tuple[str, ...]
    pinned: int
    archived: int


def sample_files() -> list[Traversable]:
    """The sample's files (package data), in the order they are imported."""
    folder = resources.files(__package__).joinpath("sample")
    return sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".json")),
        key=lambda entry: entry.name,
    )


def _shift(node: Any, delta: timedelta) -> None:
    """Move every time in an export forward by ``delta``, in place."""
    if isinstance(node, list):
        for item in node:
            _shift(item, delta)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in _TIME_FIELDS and isinstance(value, str):
                node[key] = iso(parse_iso(value) + delta)
            else:
                _shift(value, delta)


def sample_exports(now: datetime) -> list[dict[str, Any]]:
    """The sample's exports, their times moved so :data:`SAMPLE_NOW` becomes ``now``."""
    delta = now.replace(microsecond=0) - SAMPLE_NOW
    exports = []
    for entry in sample_files():
        export = json.loads(entry.read_text(encoding="utf-8"))
        _shift(export, delta)
        exports.append(export)
    return exports


def _zip(exports: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, export in enumerate(exports, 1):
            archive.writestr(f"{number:02d}.json", json.dumps(export))
    return buffer.getvalue()


async def load_sample(services: Services, user: str) -> SampleResult:
    """Import the sample for ``user`` (whatever they already have) and mark it loaded.

    Raises:
        BadInput: The sample files are broken (a test keeps them valid).
        PyMongoError: A write failed; the import removed what it wrote.
    """
    now = utcnow()
    exports = sample_exports(now)
    data = _zip(exports)
    # Operators' loads are not rate limited, like the CLI's imports.
    result = await import_conversations(
        services, ImportAdmission.unmetered(user), lambda: io.BytesIO(data)
    )
    # The import keeps the files' order; a skipped (empty) file would shift it.
    if result.conversations != len(exports):
        raise RuntimeError("the built-in sample has a conversation with no message")
    pinned = archived = 0
    for export, conversation_id in zip(exports, result.conversation_ids, strict=True):
        options = export.get("options") or {}
        if options.get("pinned") is True:
            await conversation_ops.pin(services, user, conversation_id=conversation_id, pinned=True)
            pinned += 1
        if options.get("isArchived") is True:
            await conversation_ops.archive(
                services, user, conversation_id=conversation_id, is_archived=True
            )
            archived += 1
    await sample_store.mark_loaded(services.database, user, now)
    tags = dict.fromkeys(tag for export in exports for tag in export["options"].get("tags", []))
    return SampleResult(
        conversations=result.conversations,
        messages=result.messages,
        tags=tuple(tags),
        pinned=pinned,
        archived=archived,
    )


async def load_on_first_run(services: Services, user: str) -> SampleResult | None:
    """Load the sample unless it was loaded before or the user has any data.

    A sample the user deleted stays deleted: the mark outlives it
    (:func:`reset_sample` brings it back).
    """
    database = services.database
    if await sample_store.was_loaded(database, user):
        return None
    if await sample_store.has_any_data(database, user):
        return None
    return await load_sample(services, user)


async def reset_sample(services: Services, user: str) -> SampleResult:
    """Delete the user's conversations, messages and tags, then load the sample."""
    await conversation_ops.delete_all_conversations(services, user)
    async with services.locks.hold(user):
        await sample_store.delete_tags(services.database, user)
    return await load_sample(services, user)
