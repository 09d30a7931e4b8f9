"""The three export formats, each rendering one conversation at a time.

- ``librechat``: a zip of one ``.json`` per conversation in LibreChat's own
  export shape (``conversationId``, ``title``, ``endpoint``, ``options``, a
  flat ``messages`` list linked by ``parentMessageId``), which LibreChat and
  our import (``resolvers/importing/librechat.py``) read back. The flat form,
  not ``messagesTree``: both importers accept it, and it keeps every message
  (a tree import drops empty messages with their subtrees).
- ``markdown``: a zip of one ``.md`` per conversation: the visible thread,
  each message marked where it is one of several branches.
- ``jsonl``: one JSON object per line, ``messages`` as role/content pairs of
  the visible thread (for datasets).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

import orjson

from resolvers.exporting.threads import message_text, role, visible_thread
from resolvers.exporting.zipstream import ZipStream
from resolvers.importing.librechat import PRESET_FIELDS
from resolvers.operations.clock import iso
from storage.database import Document
from storage.documents import DEFAULT_TITLE, tag_names


class ExportFormat(StrEnum):
    LIBRECHAT = "librechat"
    MARKDOWN = "markdown"
    JSONL = "jsonl"


# Message fields an export carries when stored (what LibreChat's export and
# our import know); ids of files of this instance are left out.
MESSAGE_FIELDS = (
    "messageId", "parentMessageId", "conversationId", "sender", "text", "content",
    "isCreatedByUser", "model", "endpoint", "error", "unfinished", "tokenCount",
    "feedback", "finish_reason", "iconURL", "createdAt", "updatedAt",
)  # fmt: skip
_UNSAFE = re.compile(r"[^\w\- ]+")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None))
    # ObjectIds as hex; anything else BSON holds (Decimal128, ...) as its text.
    return str(value)


def dumps(value: Any) -> bytes:
    """JSON with dates as LibreChat writes them and ObjectIds as hex."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME)


def title_of(conversation: Document) -> str:
    title = conversation.get("title")
    return title if isinstance(title, str) and title else DEFAULT_TITLE


def file_name(conversation: Document, extension: str) -> str:
    """``<title>-<conversationId>.<ext>``: readable, and unique by the id."""
    slug = _UNSAFE.sub("_", title_of(conversation)).strip(" _")[:60] or "conversation"
    cid = _UNSAFE.sub("_", str(conversation.get("conversationId")))[:100]
    return f"{slug}-{cid}.{extension}"


def librechat_export(conversation: Document, messages: Sequence[Document]) -> Document:
    """One conversation in LibreChat's export shape (flat ``messages``)."""
    options: Document = {k: v for k, v in conversation.items() if k in PRESET_FIELDS}
    endpoint = conversation.get("endpoint")
    options.update(endpoint=endpoint, title=title_of(conversation), tags=tag_names(conversation))
    for key in ("createdAt", "updatedAt"):
        if key in conversation:
            options[key] = conversation[key]
    return {
        "conversationId": conversation.get("conversationId"),
        "title": title_of(conversation),
        "endpoint": endpoint,
        "options": options,
        "recursive": False,
        "messages": [
            {key: message[key] for key in MESSAGE_FIELDS if key in message} for message in messages
        ],
    }


def markdown(conversation: Document, messages: Sequence[Document]) -> str:
    """The visible thread as Markdown; a message that is one of several
    branches says so (the others are in the LibreChat export)."""
    lines = [f"# {title_of(conversation)}", ""]
    facts = [("Conversation", conversation.get("conversationId"))]
    facts += [(k, conversation.get(k)) for k in ("endpoint", "model")]
    facts += [
        (k, iso(v))
        for k in ("createdAt", "updatedAt")
        if isinstance(v := conversation.get(k), datetime)
    ]
    tags = tag_names(conversation)
    if tags:
        facts.append(("tags", ", ".join(tags)))
    lines += [f"- **{name}**: {value}" for name, value in facts if value not in (None, "")]
    steps = visible_thread(messages)
    hidden = len(messages) - len(steps)
    if hidden:
        lines.append(f"- **branches**: {hidden} message(s) on other branches are not shown")
    for step in steps:
        m = step.message
        sender = m.get("sender") or ("User" if role(m) == "user" else "Assistant")
        when = m.get("createdAt")
        heading = f"## {sender}" + (f" ({iso(when)})" if isinstance(when, datetime) else "")
        lines += ["", heading, ""]
        if step.branches > 1:
            lines += [f"> Branch {step.branch} of {step.branches} at this point.", ""]
        lines.append(message_text(m))
    return "\n".join(lines) + "\n"


def jsonl_line(conversation: Document, messages: Sequence[Document]) -> bytes:
    record = {
        "conversationId": conversation.get("conversationId"),
        "title": title_of(conversation),
        "endpoint": conversation.get("endpoint"),
        "model": conversation.get("model"),
        "tags": tag_names(conversation),
        "createdAt": conversation.get("createdAt"),
        "updatedAt": conversation.get("updatedAt"),
        "messages": [
            {"role": role(step.message), "content": message_text(step.message)}
            for step in visible_thread(messages)
        ],
    }
    return dumps(record) + b"\n"


class Renderer(Protocol):
    media_type: str
    extension: str

    def add(self, conversation: Document, messages: Sequence[Document]) -> bytes: ...

    def close(self) -> bytes: ...


class _Zipped:
    media_type = "application/zip"
    extension = "zip"

    def __init__(self, fmt: ExportFormat) -> None:
        self._fmt = fmt
        self._zip = ZipStream()

    def add(self, conversation: Document, messages: Sequence[Document]) -> bytes:
        updated = conversation.get("updatedAt")
        when = updated if isinstance(updated, datetime) else None
        if self._fmt is ExportFormat.LIBRECHAT:
            self._zip.add(
                file_name(conversation, "json"),
                dumps(librechat_export(conversation, messages)),
                when,
            )
        else:
            self._zip.add(
                file_name(conversation, "md"), markdown(conversation, messages).encode(), when
            )
        return self._zip.take()

    def close(self) -> bytes:
        return self._zip.close()


class _Lines:
    media_type = "application/x-ndjson"
    extension = "jsonl"

    def add(self, conversation: Document, messages: Sequence[Document]) -> bytes:
        return jsonl_line(conversation, messages)

    def close(self) -> bytes:
        return b""


def renderer(fmt: ExportFormat) -> Renderer:
    return _Lines() if fmt is ExportFormat.JSONL else _Zipped(fmt)
