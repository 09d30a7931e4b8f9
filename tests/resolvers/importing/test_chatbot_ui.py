"""Chatbot UI exports become linear LibreChat conversations."""

from __future__ import annotations

import json

import pytest

from resolvers.importing import validate_import
from resolvers.operations.errors import BadInput
from tests.utils.imports import NOW, import_fixture, open_bytes


def test_each_history_item_is_a_conversation_titled_by_its_name() -> None:
    parsed = import_fixture("chatbot_ui.json")

    assert [p.conversation["title"] for p in parsed] == ["Regex help", "Haiku"]
    assert [p.conversation["model"] for p in parsed] == ["gpt-3.5-turbo", "gpt-4"]
    assert all(p.conversation["endpoint"] == "openAI" for p in parsed)


def test_only_user_and_assistant_messages_with_text_are_kept_in_order() -> None:
    regex, _ = import_fixture("chatbot_ui.json")

    assert [(m["sender"], m["text"]) for m in regex.messages] == [
        ("user", "Match a UK postcode?"),
        ("GPT-3.5", "Try `^[A-Z]{1,2}\\d[A-Z\\d]? ?\\d[A-Z]{2}$`."),
        ("user", "Case-insensitive?"),
        ("GPT-3.5", "Add the `i` flag."),
    ]
    assert [m["isCreatedByUser"] for m in regex.messages] == [True, False, True, False]
    assert all(m["model"] == "gpt-3.5-turbo" for m in regex.messages)


def test_without_timestamps_messages_are_dated_at_the_import_one_ms_apart() -> None:
    regex, _ = import_fixture("chatbot_ui.json")

    assert regex.conversation["createdAt"] == NOW
    assert [(m["createdAt"] - NOW).total_seconds() * 1000 for m in regex.messages] == [
        0,
        1,
        2,
        3,
    ]


def test_a_history_that_is_not_a_list_is_rejected() -> None:
    data = {"version": 4, "history": {"id": "c1"}}

    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(json.dumps(data).encode()))

    assert caught.value.message == 'Unsupported import type: "history" must be a list'


def test_a_message_content_that_is_not_text_names_the_field() -> None:
    data = {"version": 4, "history": [{"name": "X", "messages": [{"role": "user", "content": 5}]}]}

    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(json.dumps(data).encode()))

    assert caught.value.message == 'Conversation 1 ("X"): messages[0].content must be a string'
