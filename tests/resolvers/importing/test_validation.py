"""Validation names the problem; both passes agree; streams are closed."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.http_errors import body_for
from resolvers.importing import iter_import, validate_import
from resolvers.operations.errors import BadInput
from tests.utils.imports import FIXTURES, NOW, USER, import_all, open_bytes, open_file


def _error(data: bytes) -> str:
    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(data))
    return caught.value.message


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        (
            "chatgpt_bad_content.json",
            'Conversation 3 ("Pasta"): mapping.u1.message.content must be an object',
        ),
        (
            "chatgpt_mapping_list.json",
            'Conversation 2 ("Broken mapping"): mapping must be an object',
        ),
        ("chatgpt_cycle.json", 'Conversation 1 ("Loop"): mapping.u.parent forms a cycle'),
        ("truncated.json", "Invalid JSON after conversation 1: parse error: premature EOF"),
        (
            "unrecognised.json",
            "Unsupported import type: expected a LibreChat, ChatGPT, Chatbot UI or Claude export "
            '(an object with "conversationId" or "history", or a list of conversations)',
        ),
        (
            "unrecognised_array.json",
            'Unsupported import type: the first item of the list has neither "mapping" (ChatGPT) '
            'nor "chat_messages" (Claude)',
        ),
        ("empty_array.json", "No conversations found in file"),
    ],
)
def test_a_malformed_file_is_refused_with_a_message_naming_the_problem(
    fixture: str, message: str
) -> None:
    with pytest.raises(BadInput) as caught:
        validate_import(open_file(FIXTURES / "malformed" / fixture))

    assert caught.value.message == message
    assert body_for(caught.value.code, caught.value.message) == {"error": message}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Invalid JSON: parse error: premature EOF"),
        (b"hello", "Invalid JSON: lexical error: invalid char in json text. near: hello"),
        (
            b'[{"mapping": {}}] trailing',
            "Invalid JSON after conversation 1: parse error: trailing garbage "
            'near: [{"mapping": {}}] trailing',
        ),
        (
            b'{"a": "\xff"}',
            'Invalid JSON: lexical error: invalid bytes in UTF8 string. near: {"a": "\ufffd"}',
        ),
    ],
)
def test_invalid_json_is_reported_as_such(data: bytes, message: str) -> None:
    assert _error(data) == message


def test_a_conversation_that_is_not_an_object_is_named_by_its_position() -> None:
    assert _error(b'[{"title": "T", "mapping": {}}, 5]') == "Conversation 2 must be an object"


def test_a_message_without_an_author_is_an_error() -> None:
    data = [{"title": "T", "mapping": {"u": {"message": {"content": {"parts": ["x"]}}}}}]

    assert _error(json.dumps(data).encode()) == (
        'Conversation 1 ("T"): mapping.u.message.author is required'
    )


@pytest.mark.parametrize("create_time", ['"yesterday"', "true", "1e300"])
def test_a_create_time_that_is_not_seconds_since_1970_is_an_error(create_time: str) -> None:
    data = f'[{{"title": "T", "create_time": {create_time}, "mapping": {{}}}}]'.encode()

    assert _error(data) == 'Conversation 1 ("T"): create_time must be a time in seconds since 1970'


def test_a_date_that_is_not_iso_8601_is_an_error() -> None:
    data = {"conversationId": "c", "messagesTree": [{"text": "a", "createdAt": "01/02/2025"}]}

    assert _error(json.dumps(data).encode()) == (
        "Conversation 1: messagesTree[0].createdAt must be an ISO 8601 date"
    )


_LAST_MS = "9999-12-31T23:59:59.999Z"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"conversationId": "c", "messagesTree": [{"text": "a", "createdAt": _LAST_MS}]},
            "Conversation 1: messagesTree[0].createdAt must be an ISO 8601 date "
            "before the year 9999",
        ),
        (
            {"conversationId": "c", "messages": [{"text": "a", "createdAt": 253402300799999}]},
            "Conversation 1: messages[0].createdAt must be an ISO 8601 date before the year 9999",
        ),
        (
            [{"chat_messages": [{"sender": "human", "text": "a", "created_at": _LAST_MS}]}],
            "Conversation 1: chat_messages[0].created_at must be an ISO 8601 date "
            "before the year 9999",
        ),
        (
            [
                {
                    "mapping": {
                        "u": {
                            "message": {
                                "author": {"role": "user"},
                                "create_time": 253402300799.999,
                                "content": {"parts": ["a"]},
                            }
                        }
                    }
                }
            ],
            "Conversation 1: mapping.u.message.create_time must be a time in seconds since 1970 "
            "before the year 9999",
        ),
    ],
)
def test_a_date_in_the_last_year_a_datetime_holds_is_refused(data: object, message: str) -> None:
    # A reply without a time goes 1 ms after its parent: at 9999-12-31
    # 23:59:59.999 that overflowed (OverflowError, a 500 at the edges).
    assert _error(json.dumps(data).encode()) == message


def test_a_long_title_is_shortened_in_the_message() -> None:
    data = [{"title": "A" * 200, "mapping": []}]

    assert _error(json.dumps(data).encode()) == (
        f'Conversation 1 ("{"A" * 60}…"): mapping must be an object'
    )


def test_a_file_of_empty_conversations_has_nothing_to_import() -> None:
    data = [
        {
            "title": "Only a system prompt",
            "mapping": {"s": {"message": {"author": {"role": "system"}}}},
        }
    ]

    assert _error(json.dumps(data).encode()) == "No conversations found in file (1 had no messages)"


def test_a_file_nesting_deeper_than_the_limit_is_refused_before_building_values() -> None:
    head = b'[{"mapping": {"a": {"message": {"author": {"role": "user"}, "content": {"parts": '
    # Truncated too: the depth gate fires before the parse error is reached.
    assert _error(head + b"[" * 30_000) == "The file nests deeper than 20000 levels"


def test_a_utf8_bom_is_accepted() -> None:
    data = b"\xef\xbb\xbf" + (FIXTURES / "claude.json").read_bytes()

    assert validate_import(open_bytes(data)).conversations == 2


@pytest.mark.parametrize(
    "fixture",
    [
        "chatgpt.json",
        "claude.json",
        "chatbot_ui.json",
        "librechat_tree.json",
        "librechat_flat.json",
        "chatgpt_dangling_parent.json",
    ],
)
def test_the_summary_counts_what_the_import_pass_produces(fixture: str) -> None:
    summary = validate_import(open_file(FIXTURES / fixture))
    parsed = import_all(open_file(FIXTURES / fixture))

    assert summary.conversations == len(parsed)
    assert summary.messages == sum(len(p.messages) for p in parsed)


def test_the_import_pass_alone_yields_good_conversations_before_a_bad_one() -> None:
    # Why the wiring validates first: without it, a writer would already have
    # stored conversation 1 when conversation 2 turns out malformed.
    produced = iter_import(
        open_file(FIXTURES / "malformed" / "chatgpt_mapping_list.json"), USER, NOW
    )

    assert next(produced).conversation["title"] == "Good one"
    with pytest.raises(BadInput, match="Conversation 2"):
        next(produced)


def test_an_aware_import_time_is_stored_as_naive_utc() -> None:
    paris_summer = timezone(timedelta(hours=2))
    now = datetime(2025, 6, 1, 14, 0, 0, 123456, tzinfo=paris_summer)

    first = next(iter_import(open_file(FIXTURES / "chatbot_ui.json"), USER, now))

    assert first.conversation["createdAt"] == datetime(2025, 6, 1, 12, 0, 0, 123000)
    assert first.conversation["createdAt"] == now.astimezone(UTC).replace(
        tzinfo=None, microsecond=123000
    )


class _TrackedStreams:
    """An ``open_stream`` that remembers every stream it handed out."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.opened: list[io.BytesIO] = []

    def __call__(self) -> io.BytesIO:
        stream = io.BytesIO(self.data)
        self.opened.append(stream)
        return stream


def test_validation_opens_one_stream_and_closes_it() -> None:
    streams = _TrackedStreams((FIXTURES / "chatgpt.json").read_bytes())

    validate_import(streams)

    assert len(streams.opened) == 1
    assert streams.opened[0].closed


def test_the_stream_is_closed_after_an_error() -> None:
    streams = _TrackedStreams((FIXTURES / "malformed" / "chatgpt_cycle.json").read_bytes())

    with pytest.raises(BadInput):
        validate_import(streams)

    assert streams.opened[0].closed


def test_stopping_the_import_pass_early_closes_the_stream() -> None:
    streams = _TrackedStreams((FIXTURES / "chatgpt.json").read_bytes())
    produced = iter_import(streams, USER, NOW)

    next(produced)
    produced.close()

    assert streams.opened[0].closed
