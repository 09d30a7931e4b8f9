"""Claude exports become linear LibreChat conversations with thinking kept."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from resolvers.importing import validate_import
from resolvers.operations.errors import BadInput
from tests.utils.imports import by_text, import_all, import_fixture, open_bytes


def test_messages_form_one_chain_with_user_and_claude_senders() -> None:
    prime, _ = import_fixture("claude.json")

    assert [(m["sender"], m["text"]) for m in prime.messages] == [
        ("user", "Is 221 prime?"),
        ("Claude", "No: 221 = 13 × 17."),
        ("user", "And 223?"),
        ("Claude", "223 is prime.\n\nNo divisor up to its square root."),
    ]
    parents = [m["parentMessageId"] for m in prime.messages[1:]]
    assert parents == [m["messageId"] for m in prime.messages[:-1]]


def test_conversation_uses_the_anthropic_endpoint_and_its_created_at() -> None:
    prime, untitled = import_fixture("claude.json")

    assert prime.conversation["endpoint"] == "anthropic"
    assert all(m["endpoint"] == "anthropic" for m in prime.messages)
    assert prime.conversation["createdAt"] == datetime(2025, 3, 1, 12, 0, 0)
    assert untitled.conversation["title"] == "Imported Claude Chat"


def test_thinking_becomes_think_content_before_the_text() -> None:
    prime, _ = import_fixture("claude.json")

    assert by_text(prime, "No: 221")["content"] == [
        {"type": "think", "think": "221 = 13 × 17, so it is composite."},
        {"type": "text", "text": "No: 221 = 13 × 17."},
    ]
    assert "content" not in by_text(prime, "Is 221")


def test_an_empty_message_is_skipped() -> None:
    prime, _ = import_fixture("claude.json")

    assert len(prime.messages) == 4
    assert all(m["text"].strip() for m in prime.messages)


def test_equal_or_earlier_timestamps_are_pushed_one_ms_after_the_previous_message() -> None:
    prime, _ = import_fixture("claude.json")
    times = [m["createdAt"] for m in prime.messages]

    assert times == [
        datetime(2025, 3, 1, 12, 0, 0),
        datetime(2025, 3, 1, 12, 0, 0, 1000),
        datetime(2025, 3, 1, 12, 0, 40),
        datetime(2025, 3, 1, 12, 0, 40, 1000),
    ]


def test_an_unknown_sender_is_an_error_naming_the_message() -> None:
    data = [{"name": "Odd", "chat_messages": [{"sender": "robot", "text": "beep"}]}]

    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(json.dumps(data).encode()))

    assert caught.value.message == (
        'Conversation 1 ("Odd"): chat_messages[0].sender must be "human" or "assistant"'
    )


def test_a_message_with_only_flat_text_is_imported() -> None:
    data = [{"name": "Old", "chat_messages": [{"sender": "human", "text": "Only text here"}]}]

    (parsed,) = import_all(open_bytes(json.dumps(data).encode()))

    assert [m["text"] for m in parsed.messages] == ["Only text here"]
