"""Reading a conversation's messages: whole (LibreChat's client opens a
conversation this way) or a page at a time by cursor (docs/contract.md#messages).

Both check the conversation first, so another user's conversation is a 403
and an unknown one a 404 before a single message is read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from resolvers.adapters.services import Services
from resolvers.operations.clock import parse_iso
from resolvers.operations.conversations import missing_conversation
from resolvers.operations.cursor import (
    INVALID_CURSOR,
    direction_name,
    encode_value,
    pack,
    parse_date,
    parse_id,
    parse_text,
    unpack,
)
from resolvers.operations.errors import BadInput
from resolvers.operations.validation import MAX_ID_LENGTH, check_id, check_length
from storage import conversations as conversation_store
from storage import messages as message_store
from storage.database import Document

# GET /api/messages: LibreChat's sort keys and defaults.
MESSAGE_SORT_KEYS = ("createdAt", "updatedAt", "endpoint")
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 200
# Conversation.messagesConnection: a longer default page, the same maximum.
DEFAULT_CONNECTION_SIZE = 50
_DATE_KEYS = frozenset({"createdAt", "updatedAt"})
# JavaScript's Date#toString, which LibreChat's cursor is (String(date)).
_JS_DATE_FORMAT = "%a %b %d %Y %H:%M:%S GMT%z"


@dataclass(frozen=True)
class MessagePage:
    messages: list[Document]
    next_cursor: str | None
    sort_by: str
    direction: int

    def cursor_after(self, doc: Document) -> str:
        return encode_cursor(self.sort_by, self.direction, doc)


def page_size(value: int | None, default: int = DEFAULT_PAGE_SIZE, name: str = "pageSize") -> int:
    """A page size: absent is ``default``, below 1 is refused, above 200 is 200."""
    if value is None:
        return default
    if value < 1:
        raise BadInput(f"{name} must be between 1 and {MAX_PAGE_SIZE}")
    return min(value, MAX_PAGE_SIZE)


def encode_cursor(sort_by: str, direction: int, doc: Document) -> str:
    """The cursor after ``doc``: base64 JSON of its sort value and ``_id``."""
    return pack(
        {
            "primary": encode_value(doc.get(sort_by)),
            "id": encode_value(doc.get("_id")),
            "sortBy": sort_by,
            "dir": direction_name(direction),
        }
    )


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return parse_date(value)
    try:
        return parse_iso(value)
    except ValueError:
        pass
    try:
        # LibreChat's own nextCursor: String(date), e.g.
        # "Tue Apr 09 2024 14:32:05 GMT+0000 (Coordinated Universal Time)".
        parsed = datetime.strptime(value.split(" (", 1)[0], _JS_DATE_FORMAT)
    except ValueError as exc:
        raise BadInput(INVALID_CURSOR) from exc
    return parse_iso(parsed.isoformat())


def _primary(sort_by: str, value: Any) -> Any:
    return _date(value) if sort_by in _DATE_KEYS else parse_text(value)


def decode_cursor(cursor: str, sort_by: str, direction: int) -> tuple[Any, ...]:
    """The position a cursor names, for a page sorted by ``sort_by``.

    Ours carry the ``_id`` too, so ties never repeat or skip a message.
    LibreChat's (a bare sort value) position after every message sharing it.

    Raises:
        BadInput: "Invalid cursor", also for a cursor of another sort or direction.
    """
    payload = unpack(cursor, sort_by, direction)
    if payload is None:
        return (_primary(sort_by, cursor),)
    values: list[Any] = [_primary(sort_by, payload.get("primary"))]
    if payload.get("id") is not None:
        values.append(parse_id(payload["id"]))
    return tuple(values)


async def _owned(services: Services, user: str, conversation_id: str) -> str:
    cid = check_id(conversation_id)
    found = await conversation_store.find_one(services.database, user, cid, {"_id": 1})
    if found is None:
        raise await missing_conversation(services, user, cid)
    return cid


async def conversation_messages(
    services: Services, user: str, *, conversation_id: str
) -> AsyncIterator[Document]:
    """Every message of a conversation, oldest first, in LibreChat's client shape.

    The ownership check runs before this returns (so a 404/403 is raised
    here); the messages then arrive a batch at a time as they are iterated.

    Raises:
        NotFound, Forbidden, BadInput.
    """
    cid = await _owned(services, user, conversation_id)
    return message_store.stream_conversation(services.database, user, cid)


async def message_page(
    services: Services,
    user: str,
    *,
    conversation_id: str,
    cursor: str | None = None,
    size: int = DEFAULT_PAGE_SIZE,
    sort_by: str = "updatedAt",
    sort_direction: str = "desc",
    message_id: str | None = None,
    check_owner: bool = True,
) -> MessagePage:
    """One page of a conversation's messages (``GET /api/messages``, GraphQL's
    ``messagesConnection``); ``message_id`` asks for that one message instead.

    Args:
        check_owner: False when the caller already holds the user's
            conversation (a GraphQL ``Conversation``), so it is not read again.

    Raises:
        NotFound, Forbidden, BadInput.
    """
    if sort_by not in MESSAGE_SORT_KEYS:
        raise BadInput("sortBy must be one of createdAt, updatedAt, endpoint")
    if sort_direction not in ("asc", "desc"):
        raise BadInput("sortDirection must be asc or desc")
    direction = 1 if sort_direction == "asc" else -1
    after = decode_cursor(cursor, sort_by, direction) if cursor else None
    if message_id is not None:
        check_length(message_id, "messageId", MAX_ID_LENGTH)
    cid = (
        await _owned(services, user, conversation_id) if check_owner else check_id(conversation_id)
    )
    if message_id:
        found = await message_store.find_in_conversation(services.database, user, cid, message_id)
        return MessagePage([found] if found else [], None, sort_by, direction)
    docs = await message_store.page_of_conversation(
        services.database,
        user,
        cid,
        sort_by=sort_by,
        direction=direction,
        after=after,
        limit=size + 1,
    )
    items = docs[:size]
    more = len(docs) > size and bool(items)
    next_cursor = encode_cursor(sort_by, direction, items[-1]) if more else None
    return MessagePage(items, next_cursor, sort_by, direction)


async def count_messages(services: Services, user: str, *, conversation_id: str) -> int:
    """How many messages a conversation (already known to be the user's) holds."""
    return await message_store.count_in_conversation(services.database, user, conversation_id)
