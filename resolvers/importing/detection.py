"""Which export a JSON file is, told from its shape without loading it.

Detection reads parse events, not values: for an array it looks at the keys of
the first item only, for an object at its top-level keys until they decide
the format. Memory stays constant whatever the file's size.

Formats, in LibreChat's detection order:

- an array whose first item has ``chat_messages``: Claude;
- an array whose first item has ``mapping``, or an empty array: ChatGPT;
- an object with ``version`` and a ``history`` list: Chatbot UI;
- an object with ``conversationId`` and ``messagesTree`` or ``messages``:
  LibreChat.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import ijson

from ..errors import BadInput
from .sources import Readable


class ImportFormat(StrEnum):
    """The export formats an import accepts."""

    LIBRECHAT = "librechat"
    CHATGPT = "chatgpt"
    CHATBOT_UI = "chatbot-ui"
    CLAUDE = "claude"


# Where each format's conversations sit, as an ijson prefix. A LibreChat export
# is one conversation: the root object itself.
ITEMS_PREFIX = {
    ImportFormat.LIBRECHAT: "",
    ImportFormat.CHATGPT: "item",
    ImportFormat.CHATBOT_UI: "history.item",
    ImportFormat.CLAUDE: "item",
}

UNSUPPORTED = "Unsupported import type"

_KIND = {
    "start_array": "a list",
    "start_map": "an object",
    "string": "a string",
    "number": "a number",
    "integer": "a number",
    "double": "a number",
    "boolean": "a boolean",
    "null": "null",
    # yajl reports a premature end itself; this only guards the iterator.
    "end": "nothing",
}


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What detection found: a format, or why the shape is not one."""

    format: ImportFormat | None
    reason: str = ""


def detect_format(stream: Readable) -> ImportFormat:
    """The export format of the JSON in ``stream``.

    Args:
        stream: A binary file object positioned at the start of the JSON; it
            is read only as far as needed.

    Returns:
        The format.

    Raises:
        BadInput: The shape is no supported export ("Unsupported import type:
            ..."), or the JSON is malformed before the shape is known.
    """
    try:
        sniffed = sniff(stream)
    except ijson.JSONError as exc:
        raise BadInput(f"Invalid JSON: {describe_json_error(exc)}") from None
    if sniffed.format is None:
        raise BadInput(sniffed.reason)
    return sniffed.format


def sniff(stream: Readable) -> Sniffed:
    """Like :func:`detect_format`, but an unsupported shape is a result.

    Raises:
        ijson.JSONError: The JSON is malformed before the shape is known.
    """
    events = iter(ijson.parse(stream))
    _, event, _ = next(events, ("", "end", None))
    if event == "start_array":
        return _sniff_array(events)
    if event == "start_map":
        return _sniff_object(events)
    kind = _KIND.get(event, event)
    return Sniffed(None, f"{UNSUPPORTED}: the file holds {kind}, not a list or an object")


def _sniff_array(events: Iterator[tuple[str, str, Any]]) -> Sniffed:
    _, event, _ = next(events, ("", "end", None))
    if event == "end_array":
        # LibreChat reads an empty array as a ChatGPT export; it holds nothing.
        return Sniffed(ImportFormat.CHATGPT)
    if event != "start_map":
        kind = _KIND.get(event, event)
        return Sniffed(None, f"{UNSUPPORTED}: the list holds {kind}, not conversations")
    for prefix, event, value in events:
        if prefix != "item":
            continue
        if event == "map_key" and value == "chat_messages":
            return Sniffed(ImportFormat.CLAUDE)
        if event == "map_key" and value == "mapping":
            return Sniffed(ImportFormat.CHATGPT)
        if event == "end_map":
            break
    return Sniffed(
        None,
        f'{UNSUPPORTED}: the first item of the list has neither "mapping" (ChatGPT) '
        'nor "chat_messages" (Claude)',
    )


def _sniff_object(events: Iterator[tuple[str, str, Any]]) -> Sniffed:
    kinds: dict[str, str] = {}
    pending: str | None = None
    for prefix, event, value in events:
        if pending is not None:
            # The first event after a key is its value's (or its start).
            kinds[pending] = event
            pending = None
            if "version" in kinds and "history" in kinds:
                if kinds["history"] != "start_array":
                    return Sniffed(None, f'{UNSUPPORTED}: "history" must be a list')
                return Sniffed(ImportFormat.CHATBOT_UI)
            if "conversationId" in kinds and ("messagesTree" in kinds or "messages" in kinds):
                return Sniffed(ImportFormat.LIBRECHAT)
        if prefix == "" and event == "map_key":
            pending = value
        elif prefix == "" and event == "end_map":
            break
    if "conversationId" in kinds:
        reason = 'a LibreChat export needs "messagesTree" or "messages"'
    elif "history" in kinds or "version" in kinds:
        reason = 'a Chatbot UI export needs "version" and "history"'
    else:
        reason = (
            "expected a LibreChat, ChatGPT, Chatbot UI or Claude export "
            '(an object with "conversationId" or "history", or a list of conversations)'
        )
    return Sniffed(None, f"{UNSUPPORTED}: {reason}")


def describe_json_error(exc: Exception) -> str:
    """ijson's error as one readable line, with the text where parsing stopped.

    yajl reports "parse error: premature EOF" and, on the next lines, the text
    around the error with a caret; the position is kept as that excerpt.
    """
    message = exc.args[0] if exc.args else str(exc)
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    lines = [line.strip() for line in str(message).splitlines()]
    first = lines[0] if lines else "malformed JSON"
    excerpt = lines[1] if len(lines) > 2 else ""
    return f"{first} near: {excerpt}" if excerpt else first
