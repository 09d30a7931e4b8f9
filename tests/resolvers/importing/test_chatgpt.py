"""ChatGPT exports become LibreChat trees, message by message."""

from __future__ import annotations

from datetime import datetime

import pytest

from resolvers.importing import NO_PARENT, ParsedConversation, validate_import
from tests.utils.imports import (
    FIXTURES,
    by_text,
    import_fixture,
    open_file,
    roots,
    thread,
)


@pytest.fixture(scope="module")
def conversations() -> dict[str, ParsedConversation]:
    return {p.conversation["title"]: p for p in import_fixture("chatgpt.json")}


def test_every_conversation_with_messages_is_imported_in_file_order() -> None:
    titles = [p.conversation["title"] for p in import_fixture("chatgpt.json")]

    assert titles == [
        "Pasta al dente",
        "Fibonacci in Python",
        "Weather in Paris",
        "What breed is this cat?",
        "Haiku",
    ]


def test_a_conversation_with_only_a_system_prompt_is_skipped_and_counted() -> None:
    summary = validate_import(open_file(FIXTURES / "chatgpt.json"))

    assert (summary.conversations, summary.empty_conversations) == (5, 1)
    assert summary.messages == 6 + 4 + 5 + 2 + 2


def test_conversation_fields_follow_the_export(
    conversations: dict[str, ParsedConversation],
) -> None:
    pasta = conversations["Pasta al dente"].conversation

    assert pasta["endpoint"] == "openAI"
    assert pasta["model"] == "gpt-4o"
    assert pasta["tags"] == []
    # create_time 1718000000.25 s, kept at millisecond precision.
    assert pasta["createdAt"] == datetime(2024, 6, 10, 6, 13, 20, 250000)
    assert pasta["updatedAt"] == pasta["createdAt"]


def test_an_edited_first_message_gives_two_branches(
    conversations: dict[str, ParsedConversation],
) -> None:
    pasta = conversations["Pasta al dente"]

    assert roots(pasta) == ["How do I cook pasta?", "How do I cook pasta al dente?"]
    assert thread(pasta, "Boil salted water") == [
        ("user", "How do I cook pasta?"),
        ("GPT-4o", "Boil salted water, add the pasta and cook it for the time on the packet."),
    ]
    assert thread(pasta, "About 10 g") == [
        ("user", "How do I cook pasta al dente?"),
        ("GPT-4o", "Cook it one or two minutes less than the packet says, then taste."),
        ("user", "And how much salt?"),
        ("GPT-4o", "About 10 g per litre of water."),
    ]


def test_system_and_hidden_nodes_are_dropped_and_their_children_become_roots(
    conversations: dict[str, ParsedConversation],
) -> None:
    pasta = conversations["Pasta al dente"]
    texts = [m["text"] for m in pasta.messages]

    assert len(texts) == 6
    assert not any("I cook at home" in text or "Be brief" in text for text in texts)
    assert by_text(pasta, "How do I cook pasta?")["parentMessageId"] == NO_PARENT


def test_messages_are_emitted_depth_first_branch_by_branch(
    conversations: dict[str, ParsedConversation],
) -> None:
    texts = [m["text"][:12] for m in conversations["Pasta al dente"].messages]

    assert texts == [
        "How do I coo",
        "Boil salted ",
        "How do I coo",
        "Cook it one ",
        "And how much",
        "About 10 g p",
    ]


def test_a_message_without_metadata_takes_the_conversation_default_model(
    conversations: dict[str, ParsedConversation],
) -> None:
    answer = by_text(conversations["Pasta al dente"], "Cook it one")

    assert answer["model"] == "gpt-4o"
    assert answer["sender"] == "GPT-4o"
    assert answer["isCreatedByUser"] is False


def test_without_any_model_information_the_default_model_and_assistant_sender_apply(
    conversations: dict[str, ParsedConversation],
) -> None:
    haiku = conversations["Haiku"]

    assert haiku.conversation["model"] == "gpt-4o-mini"
    assert [(m["sender"], m["model"]) for m in haiku.messages] == [
        ("user", "gpt-4o-mini"),
        ("assistant", "gpt-4o-mini"),
    ]


def test_create_times_are_kept_and_a_missing_one_is_its_parent_plus_one_ms(
    conversations: dict[str, ParsedConversation],
) -> None:
    pasta = conversations["Pasta al dente"]
    parent = by_text(pasta, "Cook it one")
    missing = by_text(pasta, "And how much salt?")

    assert by_text(pasta, "How do I cook pasta?")["createdAt"] == datetime(2024, 6, 10, 6, 13, 30)
    assert missing["createdAt"] == datetime(2024, 6, 10, 6, 15, 3, 1000)
    assert missing["createdAt"] > parent["createdAt"]
    # 1718000400.123456 s is truncated to the millisecond MongoDB keeps.
    assert by_text(pasta, "About 10 g")["createdAt"] == datetime(2024, 6, 10, 6, 20, 0, 123000)


def test_code_execution_output_and_the_answer_form_one_thread(
    conversations: dict[str, ParsedConversation],
) -> None:
    fibonacci = conversations["Fibonacci in Python"]

    assert thread(fibonacci, "The 10th") == [
        ("user", "What is the 10th Fibonacci number?"),
        (
            "GPT-4",
            "```python\na, b = 0, 1\nfor _ in range(10):\n    a, b = b, a + b\nprint(a)\n```",
        ),
        ("GPT-4", "Execution Output:\n> 55"),
        ("GPT-4", "The 10th Fibonacci number is **55**."),
    ]


def test_citations_become_markdown_links(conversations: dict[str, ParsedConversation]) -> None:
    weather = conversations["Weather in Paris"]

    assert by_text(weather, "Paris will be")["text"] == (
        "Paris will be sunny with highs of 24 °C ([Paris weather forecast]"
        "(https://weather.example/paris)). Light rain is expected on Sunday "
        "([Weekend \\[outlook\\]](https://news.example/outlook))."
    )
    assert by_text(weather, "Lyon looks")["text"] == (
        "Lyon looks similar, slightly warmer ([Lyon forecast](https://weather.example/lyon))."
    )


def test_an_empty_browsing_display_is_dropped_without_breaking_the_thread(
    conversations: dict[str, ParsedConversation],
) -> None:
    assert thread(conversations["Weather in Paris"], "And in Lyon?") == [
        ("user", "What's the weather in Paris this weekend?"),
        ("GPT-4o", 'search("Paris weather this weekend")'),
        ("GPT-4o", by_text(conversations["Weather in Paris"], "Paris will be")["text"]),
        ("user", "And in Lyon?"),
    ]


def test_images_become_placeholders_and_unknown_parts_json_blocks(
    conversations: dict[str, ParsedConversation],
) -> None:
    cat = conversations["What breed is this cat?"]

    assert [m["text"] for m in cat.messages] == [
        "[Image]\n\nWhat breed is this cat?",
        "It looks like a British Shorthair.\n\n```json\n{\n"
        '  "content_type": "widget",\n  "kind": "breed-card",\n'
        '  "breed": "British Shorthair"\n}\n```',
    ]


def test_no_id_from_the_export_is_reused() -> None:
    raw = (FIXTURES / "chatgpt.json").read_text(encoding="utf-8")
    parsed = import_fixture("chatgpt.json")

    for conversation in parsed:
        assert conversation.conversation["conversationId"] not in raw
        assert not any(m["messageId"] in raw for m in conversation.messages)


def test_two_imports_of_one_file_get_different_ids() -> None:
    first = import_fixture("chatgpt.json")[0]
    second = import_fixture("chatgpt.json")[0]

    assert first.conversation["conversationId"] != second.conversation["conversationId"]
    assert {m["messageId"] for m in first.messages}.isdisjoint(
        m["messageId"] for m in second.messages
    )


def test_a_node_whose_parent_is_not_in_the_mapping_becomes_a_root() -> None:
    (parsed,) = import_fixture("chatgpt_dangling_parent.json")

    assert roots(parsed) == ["Where were we?"]
    assert thread(parsed, "Talking about") == [
        ("user", "Where were we?"),
        ("GPT-4o", "Talking about sourdough."),
    ]
