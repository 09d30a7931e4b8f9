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
from itertools import accumulate, repeat
from operator import itemgetter
from typing import Any

import ijson

from ..operations.errors import BadInput
from .sources import Readable, without_bom


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
# Deepest nesting accepted. ijson's cost per value grows with its depth, so a
# deeply nested file takes time quadratic in its depth (40,000 levels: ~10 s)
# while only a LibreChat tree nests legitimately: two levels per message, so
# this admits a 10,000-message reply chain.
MAX_NESTING_DEPTH = 20_000
_DEPTH_CHANGE = {"start_map": 1, "start_array": 1, "end_map": -1, "end_array": -1}

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
        sniffed = sniff(without_bom(stream))
    except ijson.JSONError as exc:
        raise BadInput(f"Invalid JSON: {describe_json_error(exc)}") from None
    if sniffed.format is None:
        raise BadInput(sniffed.reason)
    return sniffed.format


def sniff(stream: Readable) -> Sniffed:
    """Like :func:`detect_format`, but an unsupported shape is a result.

    Reads events without prefixes (``basic_parse``), tracking depth itself:
    ijson's prefixed events cost time that grows with depth, and a file that
    nests deeply is not refused until after detection.

    Raises:
        ijson.JSONError: The JSON is malformed before the shape is known.
    """
    events = iter(ijson.basic_parse(stream))
    event, _ = next(events, ("end", None))
    if event == "start_array":
        return _sniff_array(events)
    if event == "start_map":
        return _sniff_object(events)
    kind = _KIND.get(event, event)
    return Sniffed(None, f"{UNSUPPORTED}: the file holds {kind}, not a list or an object")


def _sniff_array(events: Iterator[tuple[str, Any]]) -> Sniffed:
    event, _ = next(events, ("end", None))
    if event == "end_array":
        # LibreChat reads an empty array as a ChatGPT export; it holds nothing.
        return Sniffed(ImportFormat.CHATGPT)
    if event != "start_map":
        kind = _KIND.get(event, event)
        return Sniffed(None, f"{UNSUPPORTED}: the list holds {kind}, not conversations")
    depth = 1  # Inside the first item.
    for event, value in events:
        if depth == 1 and event == "map_key":
            if value == "chat_messages":
                return Sniffed(ImportFormat.CLAUDE)
            if value == "mapping":
                return Sniffed(ImportFormat.CHATGPT)
        depth += _DEPTH_CHANGE.get(event, 0)
        if depth == 0:
            break
    return Sniffed(
        None,
        f'{UNSUPPORTED}: the first item of the list has neither "mapping" (ChatGPT) '
        'nor "chat_messages" (Claude)',
    )


def _sniff_object(events: Iterator[tuple[str, Any]]) -> Sniffed:
    kinds: dict[str, str] = {}
    pending: str | None = None
    depth = 1  # Inside the root object.
    for event, value in events:
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
        if depth == 1 and event == "map_key":
            pending = value
        depth += _DEPTH_CHANGE.get(event, 0)
        if depth == 0:
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


def nests_deeper_than(stream: Readable, limit: int) -> bool:
    """Whether the JSON in ``stream`` nests deeper than ``limit`` levels.

    Linear time, constant memory: the events carry no prefix and the count
    runs in C (map, accumulate, any), stopping at the first level too deep.
    A parse error is raised only if it comes before that level.

    Raises:
        ijson.JSONError: The JSON is malformed before any level too deep.
    """
    events = map(itemgetter(0), ijson.basic_parse(stream))
    depths = accumulate(map(_DEPTH_CHANGE.get, events, repeat(0)))
    return any(map(limit.__lt__, depths))


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
