"""Turning a ChatGPT message's ``content`` and ``metadata`` into LibreChat text.

ChatGPT stores each message as typed content. Text parts are kept as written,
code and tool output become Markdown, web citations become Markdown links,
and anything else is kept visible as a JSON block or a placeholder rather than
dropped, so no part of a conversation disappears silently.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .shape import Path, optional_list, optional_str

# Citation markers as ChatGPT leaves them in the text: "【3†source】" (browsing)
# and private-use-delimited ones ("\ue200cite\ue202turn0search0\ue201").
_MARKER = re.compile("【[^【】]*】|\ue200[^\ue200\ue201]*\ue201")
_BACKTICKS = re.compile("`+")
_GPT_SLUG = re.compile(r"gpt-(.+)")
# Object parts LibreChat cannot show (the files are not in the export).
_PLACEHOLDERS = {
    "image_asset_pointer": "[Image]",
    "audio_asset_pointer": "[Audio]",
    "real_time_user_audio_video_asset_pointer": "[Audio]",
    "video_container_asset_pointer": "[Video]",
}


def sender_for_model(slug: str | None) -> str:
    """LibreChat's sender label for an assistant message from ``slug``.

    ``gpt-4o`` becomes ``GPT-4o`` (as LibreChat's importer names it); another
    slug is used as it is; without one the sender is ``assistant``.
    """
    if not slug:
        return "assistant"
    match = _GPT_SLUG.search(slug)
    return f"GPT-{match.group(1)}" if match else slug


def fence(body: str, language: str = "") -> str:
    """``body`` as a Markdown code block that its own backticks cannot close."""
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{body}\n{ticks}"


def json_fence(value: object) -> str:
    """``value`` as a fenced JSON block."""
    return fence(json.dumps(value, ensure_ascii=False, indent=2), "json")


def render_content(content: dict[str, Any], path: Path) -> str:
    """The text LibreChat shows for one ChatGPT ``message.content``.

    Args:
        content: The ``content`` object.
        path: Its path, for error messages.

    Returns:
        The rendered text; empty when the message shows nothing.
    """
    content_type = optional_str(content, "content_type", path)
    if content_type == "code":
        language = optional_str(content, "language", path) or ""
        code = optional_str(content, "text", path) or ""
        # ChatGPT writes "unknown" when it did not tag the code.
        return fence(code, "" if language == "unknown" else language) if code.strip() else ""
    if content_type == "execution_output":
        output = optional_str(content, "text", path) or ""
        if not output.strip():
            return ""
        quoted = "\n".join(f"> {line}" for line in output.splitlines())
        return f"Execution Output:\n{quoted}"
    parts = optional_list(content, "parts", path)
    if parts is not None:
        rendered = [text for text in map(_render_part, parts) if text]
        # LibreChat joins the parts of a text message with a space.
        return (" " if content_type == "text" else "\n\n").join(rendered)
    text = content.get("text")
    if isinstance(text, str):
        return text
    # Browsing displays, reasoning and other typed content: kept visible as
    # JSON, unless every field is blank (an empty browsing display).
    shown = any(
        value not in (None, "", [], {}) for key, value in content.items() if key != "content_type"
    )
    return json_fence(content) if shown else ""


def _render_part(part: object) -> str:
    if part is None:
        return ""
    if isinstance(part, str):
        return part
    if isinstance(part, dict):
        part_type = part.get("content_type")
        if isinstance(part_type, str) and part_type in _PLACEHOLDERS:
            return _PLACEHOLDERS[part_type]
        transcript = part.get("text")
        if part_type == "audio_transcription" and isinstance(transcript, str):
            return transcript
    return json_fence(part)


def inline_citations(text: str, metadata: dict[str, Any] | None) -> str:
    """``text`` with ChatGPT's citation markers replaced by Markdown links.

    A marker becomes `` ([title](url))``. Markers are found by the citation's
    ``start_ix``/``end_ix`` when those delimit a marker, else by its
    ``metadata.extra.cited_message_idx`` ("【3†...】"); newer exports'
    ``content_references`` are found by their ``matched_text``. A citation
    that does not fit (no URL, offsets off the text) leaves the text as it is.

    Args:
        text: The assistant message's rendered text.
        metadata: The message's ``metadata`` (may be None).

    Returns:
        The text with links.
    """
    if not metadata or not text:
        return text
    spans: list[tuple[int, int, str]] = []
    citations = metadata.get("citations")
    if isinstance(citations, list):
        for citation in citations:
            if isinstance(citation, dict):
                spans.extend(_citation_span(text, citation))
    references = metadata.get("content_references")
    if isinstance(references, list):
        for reference in references:
            if isinstance(reference, dict):
                spans.extend(_reference_span(text, reference))
    if not spans:
        return text
    pieces: list[str] = []
    end_of_previous = len(text)
    # From the end, so the offsets still to apply stay valid; of overlapping
    # spans (two citations of one marker) the first listed is applied (the
    # sort is stable, also in reverse).
    for start, end, link in sorted(spans, key=lambda span: span[:2], reverse=True):
        if end > end_of_previous:
            continue
        pieces.append(text[end:end_of_previous])
        # The link brings its own leading space; do not double one already there.
        pieces.append(link[1:] if start and text[start - 1].isspace() else link)
        end_of_previous = start
    pieces.append(text[:end_of_previous])
    return "".join(reversed(pieces))


def _citation_span(text: str, citation: dict[str, Any]) -> list[tuple[int, int, str]]:
    meta = citation.get("metadata")
    if not isinstance(meta, dict):
        return []
    link = _link(meta.get("title"), meta.get("url"))
    if link is None:
        return []
    start, end = citation.get("start_ix"), citation.get("end_ix")
    if (
        type(start) is int
        and type(end) is int
        and 0 <= start < end <= len(text)
        and _MARKER.fullmatch(text, start, end)
    ):
        return [(start, end, link)]
    # Offsets that miss a marker (counted in other units, or stale): find the
    # marker by the index of the search result it cites.
    extra = meta.get("extra")
    cited = extra.get("cited_message_idx") if isinstance(extra, dict) else None
    if type(cited) is int:
        found = re.search(f"【{cited}†[^【】]*】", text)
        if found:
            return [(found.start(), found.end(), link)]
    return []


def _reference_span(text: str, reference: dict[str, Any]) -> list[tuple[int, int, str]]:
    matched = reference.get("matched_text")
    if not isinstance(matched, str) or not _MARKER.fullmatch(matched):
        return []
    start = text.find(matched)
    if start < 0:
        return []
    items = reference.get("items")
    links = [
        link
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
        for link in [_link(item.get("title"), item.get("url"))]
        if link is not None
    ]
    # A private-use marker with no source to link is an invisible control
    # sequence: dropping it loses nothing a reader could see.
    if not links and not matched.startswith("\ue200"):
        return []
    return [(start, start + len(matched), "".join(links))]


def _link(title: object, url: object) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return None
    label = title if isinstance(title, str) and title.strip() else url
    label = label.replace("[", "\\[").replace("]", "\\]")
    target = f"<{url}>" if any(c in url for c in " ()<>") else url
    return f" ([{label}]({target}))"
