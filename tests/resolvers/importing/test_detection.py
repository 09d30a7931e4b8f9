"""The export format is told from the JSON's shape, reading only what decides it."""

from __future__ import annotations

import io

import pytest

from resolvers.importing import ImportFormat, detect_format
from resolvers.operations.errors import BadInput
from tests.utils.imports import FIXTURES


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("chatgpt.json", ImportFormat.CHATGPT),
        ("claude.json", ImportFormat.CLAUDE),
        ("chatbot_ui.json", ImportFormat.CHATBOT_UI),
        ("librechat_tree.json", ImportFormat.LIBRECHAT),
        ("librechat_flat.json", ImportFormat.LIBRECHAT),
        ("malformed/empty_array.json", ImportFormat.CHATGPT),
    ],
)
def test_each_fixture_is_detected_as_its_format(fixture: str, expected: ImportFormat) -> None:
    with (FIXTURES / fixture).open("rb") as stream:
        assert detect_format(stream) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'[{"title": "t", "mapping": {}}, {"broken', ImportFormat.CHATGPT),
        (b'[{"uuid": "u", "chat_messages": []}, {"broken', ImportFormat.CLAUDE),
        (b'{"conversationId": "c", "messagesTree": [{"text": "bro', ImportFormat.LIBRECHAT),
        (b'{"version": 4, "history": [{"name": "bro', ImportFormat.CHATBOT_UI),
    ],
)
def test_detection_stops_reading_once_the_shape_decides(
    head: bytes, expected: ImportFormat
) -> None:
    # The rest of each file is cut off: detection never reaches it.
    assert detect_format(io.BytesIO(head)) == expected


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'"just a string"', "the file holds a string, not a list or an object"),
        (b"[1, 2]", "the list holds a number, not conversations"),
        (
            b'[{"id": 1, "messages": []}]',
            'the first item of the list has neither "mapping" (ChatGPT) '
            'nor "chat_messages" (Claude)',
        ),
        (
            b'{"conversationId": "c", "title": "t"}',
            'a LibreChat export needs "messagesTree" or "messages"',
        ),
        (b'{"history": []}', 'a Chatbot UI export needs "version" and "history"'),
    ],
)
def test_an_unsupported_shape_says_what_was_expected(data: bytes, reason: str) -> None:
    with pytest.raises(BadInput) as caught:
        detect_format(io.BytesIO(data))

    assert caught.value.message == f"Unsupported import type: {reason}"


def test_a_utf8_bom_before_the_json_is_skipped() -> None:
    assert detect_format(io.BytesIO(b'\xef\xbb\xbf[{"mapping": {}}]')) == ImportFormat.CHATGPT


def test_malformed_json_before_the_shape_is_known_is_invalid_json() -> None:
    with pytest.raises(BadInput) as caught:
        detect_format(io.BytesIO(b"{nope"))

    assert caught.value.message.startswith("Invalid JSON: lexical error")
