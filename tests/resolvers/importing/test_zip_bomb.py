"""An under-cap zip bomb costs one inflation per import, however many passes read it."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from resolvers.adapters.services import Services
from resolvers.importing.operation import ImportAdmission, import_conversations
from storage.database import Database
from tests.utils.imports import USER

# Small enough for a test, large enough that a second pass would show.
INFLATED = 8 * 1024 * 1024


def _export() -> bytes:
    node = {
        "id": "u1",
        "parent": None,
        "children": [],
        "message": {
            "id": "u1",
            "author": {"role": "user"},
            "create_time": 1_700_000_000.0,
            "content": {"content_type": "text", "parts": ["Hello?"]},
        },
    }
    return json.dumps([{"title": "Bomb", "mapping": {"u1": node}}]).encode()


def _bomb() -> bytes:
    """A valid export padded with whitespace: about 1,000 times smaller zipped."""
    export = _export()
    padded = export[:-1] + b" " * (INFLATED - len(export)) + b"]"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("conversations.json", padded)
    return buffer.getvalue()


class _Inflated:
    """Bytes zipfile inflates, whoever reads them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bytes = 0
        original = zipfile.ZipExtFile._read1  # type: ignore[attr-defined]

        def counted(member: Any, n: int) -> bytes:
            data: bytes = original(member, n)
            self.bytes += len(data)
            return data

        monkeypatch.setattr(zipfile.ZipExtFile, "_read1", counted)


async def test_an_under_cap_bomb_is_inflated_once_for_the_whole_import(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = _bomb()
    assert len(bomb) * 500 < INFLATED  # a bomb indeed
    inflated = _Inflated(monkeypatch)

    result = await import_conversations(
        Services(database=database),
        ImportAdmission.unmetered(USER),
        lambda: io.BytesIO(bomb),
        max_uncompressed_bytes=2 * INFLATED,
    )

    assert (result.conversations, result.messages) == (1, 1)
    assert inflated.bytes == INFLATED
