"""ChatGPT content parts and citations rendered as LibreChat text."""

from __future__ import annotations

from typing import Any

import pytest

from resolvers.importing.chatgpt_content import (
    inline_citations,
    render_content,
    sender_for_model,
)
from resolvers.importing.shape import ROOT, Problem


@pytest.mark.parametrize(
    ("slug", "sender"),
    [
        ("gpt-4o", "GPT-4o"),
        ("gpt-4o-mini", "GPT-4o-mini"),
        ("o3", "o3"),
        ("text-davinci-002-render-sha", "text-davinci-002-render-sha"),
        (None, "assistant"),
        ("", "assistant"),
    ],
)
def test_sender_is_named_after_the_model_slug(slug: str | None, sender: str) -> None:
    assert sender_for_model(slug) == sender


def test_text_parts_are_joined_with_a_space() -> None:
    content = {"content_type": "text", "parts": ["First part.", "", "Second part."]}

    assert render_content(content, ROOT) == "First part. Second part."


def test_code_is_fenced_with_its_language_and_unknown_is_left_out() -> None:
    tagged = {"content_type": "code", "language": "sql", "text": "SELECT 1;"}
    untagged = {"content_type": "code", "language": "unknown", "text": "print(1)"}

    assert render_content(tagged, ROOT) == "```sql\nSELECT 1;\n```"
    assert render_content(untagged, ROOT) == "```\nprint(1)\n```"


def test_a_fence_is_longer_than_any_backtick_run_inside_it() -> None:
    content = {"content_type": "code", "language": "md", "text": "```js\nx()\n```"}

    assert render_content(content, ROOT) == "````md\n```js\nx()\n```\n````"


def test_every_line_of_execution_output_is_quoted() -> None:
    content = {"content_type": "execution_output", "text": "line one\nline two\n"}

    assert render_content(content, ROOT) == "Execution Output:\n> line one\n> line two"


def test_typed_content_without_parts_is_kept_as_json() -> None:
    content = {"content_type": "thoughts", "thoughts": [{"summary": "Plan", "content": "..."}]}

    rendered = render_content(content, ROOT)

    assert rendered.startswith("```json\n{\n")
    assert '"summary": "Plan"' in rendered


def test_typed_content_with_only_blank_fields_renders_as_nothing() -> None:
    content = {"content_type": "tether_browsing_display", "result": "", "summary": None}

    assert render_content(content, ROOT) == ""


def test_parts_that_are_not_a_list_name_the_field() -> None:
    with pytest.raises(Problem, match=r"^mapping\.u1\.message\.content\.parts must be a list$"):
        path = ROOT.key("mapping").key("u1").key("message").key("content")
        render_content({"content_type": "text", "parts": "hello"}, path)


def _citation(
    text: str, marker: str, title: str, url: str | None, *, shift: int = 0, cited: int | None = None
) -> dict[str, Any]:
    """A citation of ``marker`` in ``text``, its offsets moved by ``shift``."""
    start = text.index(marker) + shift
    extra = {"cited_message_idx": cited} if cited is not None else {}
    return {
        "start_ix": start,
        "end_ix": start + len(marker),
        "metadata": {"type": "webpage", "title": title, "url": url, "extra": extra},
    }


def test_a_citation_replaces_the_marker_its_offsets_delimit() -> None:
    text = "It is sunny【3†source】."
    citation = _citation(text, "【3†source】", "Forecast", "https://w.example")

    assert inline_citations(text, {"citations": [citation]}) == (
        "It is sunny ([Forecast](https://w.example))."
    )


def test_offsets_that_miss_a_marker_fall_back_to_the_cited_index() -> None:
    text = "Cake 🍰 shop【7†source】 opens daily."
    # JavaScript counts 🍰 as two UTF-16 units, so offsets land one character late.
    citation = _citation(text, "【7†source】", "Hours", "https://cake.example", shift=1, cited=7)

    assert inline_citations(text, {"citations": [citation]}) == (
        "Cake 🍰 shop ([Hours](https://cake.example)) opens daily."
    )


def test_a_citation_without_a_url_or_a_findable_marker_leaves_the_text_alone() -> None:
    text = "Plain text【1†source】."
    citations = [
        _citation(text, "【1†source】", "No link", None),
        _citation(text, "【1†source】", "Misplaced", "https://x.example", shift=-3),
    ]

    assert inline_citations(text, {"citations": citations}) == text


def test_two_citations_of_one_marker_insert_one_link() -> None:
    text = "Fact【2†source】."
    citations = [
        _citation(text, "【2†source】", "A", "https://a.example"),
        _citation(text, "【2†source】", "B", "https://b.example"),
    ]

    assert inline_citations(text, {"citations": citations}) == "Fact ([A](https://a.example))."


def test_a_private_use_reference_marker_without_sources_is_removed() -> None:
    marker = "\ue200cite\ue202turn0search0\ue201"
    metadata = {"content_references": [{"matched_text": marker, "items": []}]}

    assert inline_citations(f"Done{marker}.", metadata) == "Done."


def test_a_url_with_spaces_or_parentheses_is_wrapped_in_angle_brackets() -> None:
    text = "See【1†source】"
    citation = _citation(text, "【1†source】", "Wiki", "https://en.example/wiki/Rome_(city)")

    assert inline_citations(text, {"citations": [citation]}) == (
        "See ([Wiki](<https://en.example/wiki/Rome_(city)>))"
    )
