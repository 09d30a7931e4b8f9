"""LibreChat exports (tree and flat) are re-imported with new ids."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from resolvers.importing import NO_PARENT, ParsedConversation, validate_import
from resolvers.operations.errors import BadInput
from tests.utils.imports import (
    FIXTURES,
    by_text,
    import_all,
    import_fixture,
    open_bytes,
    open_file,
    roots,
    thread,
)


@pytest.fixture(scope="module")
def tree() -> ParsedConversation:
    (parsed,) = import_fixture("librechat_tree.json")
    return parsed


@pytest.fixture(scope="module")
def flat() -> ParsedConversation:
    (parsed,) = import_fixture("librechat_flat.json")
    return parsed


def test_the_tree_is_flattened_depth_first_with_both_branches(tree: ParsedConversation) -> None:
    assert [m["text"][:14] for m in tree.messages] == [
        "Plan a 3-day t",
        "Day 1: Alfama ",
        "Swap day 3 for",
        "Day 3: Cascais",
        "Day 1: Baixa. ",
    ]
    assert thread(tree, "Day 3: Cascais") == [
        ("User", "Plan a 3-day trip to Lisbon."),
        ("GPT-4o", "Day 1: Alfama and the castle. Day 2: Belém. Day 3: Sintra."),
        ("User", "Swap day 3 for Cascais."),
        ("GPT-4o", "Day 3: Cascais, the beach and the Boca do Inferno."),
    ]
    assert thread(tree, "Day 1: Baixa")[0] == ("User", "Plan a 3-day trip to Lisbon.")


def test_an_empty_message_is_skipped_with_its_subtree(tree: ParsedConversation) -> None:
    assert not any("Orphaned reply" in m["text"] for m in tree.messages)
    assert len(tree.messages) == 5


def test_timestamps_are_kept_missing_or_equal_ones_follow_the_parent(
    tree: ParsedConversation,
) -> None:
    assert by_text(tree, "Day 1: Alfama")["createdAt"] == datetime(2025, 2, 1, 9, 0, 5, 120000)
    # Same second as its parent in the export.
    assert by_text(tree, "Day 3: Cascais")["createdAt"] == datetime(2025, 2, 1, 9, 1, 0, 1000)
    # No createdAt in the export.
    assert by_text(tree, "Day 1: Baixa")["createdAt"] == datetime(2025, 2, 1, 9, 0, 0, 1000)
    assert tree.conversation["createdAt"] == datetime(2025, 2, 1, 9, 0, 0)


def test_options_preset_and_tags_are_kept_but_not_identity_or_state(
    tree: ParsedConversation,
) -> None:
    conversation = tree.conversation

    assert conversation["title"] == "Lisbon trip"
    assert conversation["endpoint"] == "openAI"
    assert conversation["model"] == "gpt-4o"
    assert conversation["temperature"] == 0.7
    assert conversation["promptPrefix"] == "You are a travel planner."
    assert conversation["tags"] == ["travel", "portugal"]
    assert conversation["isArchived"] is False
    assert conversation["user"] != "someone-else"
    assert "files" not in conversation


def test_message_fields_are_kept_and_foreign_references_dropped(tree: ParsedConversation) -> None:
    cascais = by_text(tree, "Day 3: Cascais")

    assert cascais["content"] == [
        {"type": "text", "text": "Day 3: Cascais, the beach and the Boca do Inferno."}
    ]
    assert cascais["feedback"] == {"rating": "thumbsUp"}
    assert cascais["tokenCount"] == 10
    assert cascais["isCreatedByUser"] is False
    assert cascais["model"] == "gpt-4o"
    assert not {"_id", "__v", "files", "children"} & cascais.keys()


def test_a_user_message_without_a_model_takes_the_conversation_model(
    tree: ParsedConversation,
) -> None:
    assert by_text(tree, "Plan a 3-day")["model"] == "gpt-4o"


def test_the_flat_list_is_reordered_parents_first(flat: ParsedConversation) -> None:
    assert thread(flat, "Thanks!") == [
        ("User", "How do I install Llama 3.1 locally?"),
        ("Ollama", "Run `ollama pull llama3.1`."),
        ("User", "Thanks!"),
    ]


def test_a_flat_message_whose_parent_was_not_exported_becomes_a_root(
    flat: ParsedConversation,
) -> None:
    assert roots(flat) == [
        "How do I install Llama 3.1 locally?",
        "A stray reply from another branch.",
    ]


def test_the_endpoint_comes_from_the_export_not_openai(flat: ParsedConversation) -> None:
    assert flat.conversation["endpoint"] == "ollama"
    assert flat.conversation["endpointType"] == "custom"
    assert flat.conversation["model"] == "llama3.1:8b"
    assert {m["endpoint"] for m in flat.messages} == {"ollama"}


def test_summary_counts_each_tag_once_per_conversation() -> None:
    summary = validate_import(open_file(FIXTURES / "librechat_tree.json"))

    assert dict(summary.tags) == {"travel": 1, "portugal": 1}


def _export(**fields: object) -> bytes:
    document = {"conversationId": "c", "title": "Notes", **fields}
    return json.dumps(document).encode()


def test_a_repeated_message_id_in_a_flat_list_is_an_error() -> None:
    messages = [
        {"messageId": "a", "parentMessageId": NO_PARENT, "text": "one"},
        {"messageId": "a", "parentMessageId": NO_PARENT, "text": "two"},
    ]

    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(_export(messages=messages)))

    assert caught.value.message == (
        'Conversation 1 ("Notes"): messages[1].messageId repeats another message\'s id'
    )


def test_flat_messages_that_point_at_each_other_are_an_error() -> None:
    messages = [
        {"messageId": "a", "parentMessageId": NO_PARENT, "text": "root"},
        {"messageId": "b", "parentMessageId": "c", "text": "loop one"},
        {"messageId": "c", "parentMessageId": "b", "text": "loop two"},
    ]

    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(_export(messages=messages)))

    assert caught.value.message == (
        'Conversation 1 ("Notes"): messages[1].parentMessageId forms a cycle'
    )


def test_a_tag_longer_than_256_characters_is_an_error() -> None:
    data = _export(options={"tags": ["ok", "x" * 257]}, messagesTree=[{"text": "hi"}])

    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(data))

    assert caught.value.message == (
        'Conversation 1 ("Notes"): options.tags[1] must be at most 256 characters'
    )


def _chain(depth: int, leaf: str) -> bytes:
    """An export whose messagesTree has ``depth`` replies above ``leaf``.

    Built as text: json.dumps recurses and cannot write a tree this deep.
    """
    opening = '{"text": "reply", "children": [' * depth
    closing = "]}" * depth
    tree = f"[{opening}{leaf}{closing}]"
    return ('{"conversationId": "c", "title": "Notes", "messagesTree": ' + tree + "}").encode()


def test_an_error_deep_in_a_long_chain_shows_a_shortened_path() -> None:
    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(_chain(3000, '{"text": 5}')))

    message = caught.value.message
    assert message.startswith('Conversation 1 ("Notes"): messagesTree[0].children[0]')
    assert message.endswith(".children[0].text must be a string")
    assert "…(2996 levels)…" in message


def test_a_deep_chain_imports_without_recursion() -> None:
    (parsed,) = import_all(open_bytes(_chain(5000, '{"text": "leaf"}')))

    assert len(parsed.messages) == 5001
    assert parsed.messages[-1]["text"] == "leaf"
