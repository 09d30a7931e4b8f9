"""Random conversations written as each export format the import reads.

A :class:`Convo` is format-neutral: a title, tags, and messages each naming an
earlier message as parent (or none). :data:`WRITERS` renders a list of them as
one upload in a given format, keeping what that format can express: branches
in LibreChat's files and ChatGPT's ``mapping``; Claude and Chatbot UI are
linear, so there every message follows the one before it.
"""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import strategies as st

NO_PARENT = "00000000-0000-0000-0000-000000000000"
_EPOCH = datetime(1970, 1, 1)
MODELS = ["gpt-4o", "o3-mini", "claude-3-5-sonnet", "llama3.1:8b"]


@dataclass(frozen=True)
class Msg:
    """One message: ``parent`` indexes an earlier message; -1 is a root."""

    parent: int
    text: str
    by_user: bool
    # Naive UTC with microseconds (the import truncates to ms); None: untimed.
    at: datetime | None
    # ChatGPT: a node the import drops (a system prompt), re-parenting its
    # children; Claude: a thinking part of an assistant message; LibreChat:
    # ``content`` parts and feedback besides the text.
    extra: bool
    model: str | None


@dataclass(frozen=True)
class Convo:
    title: str
    tags: list[str]
    messages: list[Msg]
    created: datetime | None
    # Where a writer has a choice (flat order, zip or bare file), what to pick.
    seed: int


# The whole calendar the import accepts: before 1970 (negative epochs), past
# 2107 (the last year a zip member's date holds), up to its bound in 9999.
times = st.none() | st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9998, 12, 31, 23, 59, 59, 999999)
)
# Any unicode; the first message of a conversation has visible text so that
# no conversation is dropped whole (a file with nothing to show is refused).
texts = st.text(max_size=16)
shown_texts = st.text(min_size=1, max_size=16).filter(lambda t: t.strip() != "")
tags = st.lists(st.sampled_from(["work", " later ", "a b", "é"]) | st.text(max_size=6), max_size=3)


@st.composite
def conversations(draw: st.DrawFn, max_messages: int = 8) -> Convo:
    n = draw(st.integers(min_value=1, max_value=max_messages))
    messages = []
    for i in range(n):
        messages.append(
            Msg(
                parent=-1 if i == 0 else draw(st.integers(min_value=-1, max_value=i - 1)),
                text=draw(shown_texts if i == 0 else texts),
                by_user=draw(st.booleans()),
                at=draw(times),
                extra=i > 0 and draw(st.booleans()),
                model=draw(st.none() | st.sampled_from(MODELS)),
            )
        )
    return Convo(
        title=draw(st.text(max_size=20)),
        tags=draw(tags),
        messages=messages,
        created=draw(times),
        seed=draw(st.integers(min_value=0, max_value=2**16)),
    )


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds") + "Z"


def _js_date(value: datetime | None, rng: random.Random) -> str | int | None:
    """ISO text as LibreChat writes it, or milliseconds as ``new Date(x)`` reads them."""
    if value is None:
        return None
    if rng.random() < 0.3:
        return round((value - _EPOCH) / timedelta(milliseconds=1))
    return _iso(value)


def _epoch(value: datetime | None) -> float | None:
    return (
        None
        if value is None
        else (value.replace(tzinfo=UTC) - _EPOCH.replace(tzinfo=UTC)).total_seconds()
    )


def _librechat_message(c: Convo, i: int, rng: random.Random) -> dict[str, Any]:
    m = c.messages[i]
    return {
        "messageId": f"m{i}",
        "parentMessageId": f"m{m.parent}" if m.parent >= 0 else NO_PARENT,
        "conversationId": "old",
        "sender": "User" if m.by_user else (m.model or "Assistant"),
        "text": m.text,
        "isCreatedByUser": m.by_user,
        "model": None if m.by_user else m.model,
        "error": False,
        "unfinished": False,
        "createdAt": _js_date(m.at, rng),
        "tokenCount": len(m.text),
        **(
            {"content": [{"type": "text", "text": m.text}], "feedback": {"rating": "thumbsUp"}}
            if m.extra
            else {}
        ),
    }


def _librechat(c: Convo, *, tree: bool) -> dict[str, Any]:
    rng = random.Random(c.seed)
    options: dict[str, Any] = {"endpoint": "openAI", "title": c.title, "tags": c.tags}
    if c.messages[0].model:
        options["model"] = c.messages[0].model
    if c.created is not None:
        options["createdAt"] = _iso(c.created)
    doc: dict[str, Any] = {
        "conversationId": "old",
        "title": c.title,
        "endpoint": "openAI",
        "recursive": tree,
        "options": options,
    }
    flat = [_librechat_message(c, i, rng) for i in range(len(c.messages))]
    if tree:
        for node in flat:
            node["children"] = []
        roots = []
        for i, m in enumerate(c.messages):
            (flat[m.parent]["children"] if m.parent >= 0 else roots).append(flat[i])
        doc["messagesTree"] = roots
    else:
        # A flat export may list messages in any order; now and then one
        # names a parent the file does not hold (a branch cut out).
        rng.shuffle(flat)
        if len(flat) > 1 and rng.random() < 0.3:
            flat[rng.randrange(len(flat))]["parentMessageId"] = "not-exported"
        doc["messages"] = flat
    return doc


def _librechat_upload(convos: list[Convo], tree: bool) -> bytes:
    """One conversation: a bare JSON file; several: a zip of one file each."""
    docs = [orjson.dumps(_librechat(c, tree=tree)) for c in convos]
    if len(docs) == 1:
        return docs[0]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i, doc in enumerate(docs):
            archive.writestr(f"convo-{i}.json", doc)
    return buffer.getvalue()


def _chatgpt(c: Convo, index: int) -> dict[str, Any]:
    mapping: dict[str, Any] = {
        "root": {"id": "root", "message": None, "parent": None, "children": []}
    }
    for i, m in enumerate(c.messages):
        key = f"n{i}"
        parent = f"n{m.parent}" if m.parent >= 0 else "root"
        role = "system" if m.extra and not m.by_user else ("user" if m.by_user else "assistant")
        mapping[key] = {
            "id": key,
            "parent": parent,
            "children": [],
            "message": {
                "id": key,
                "author": {"role": role, "name": None, "metadata": {}},
                "create_time": _epoch(m.at),
                "content": {"content_type": "text", "parts": [m.text]},
                "metadata": {"model_slug": m.model} if m.model else {},
            },
        }
        mapping[parent]["children"].append(key)
    return {
        "title": c.title,
        "create_time": _epoch(c.created),
        "conversation_id": f"c{index}",
        "mapping": mapping,
    }


def _claude(c: Convo, index: int) -> dict[str, Any]:
    messages = []
    for i, m in enumerate(c.messages):
        content: list[dict[str, Any]] = [{"type": "text", "text": m.text}]
        if m.extra and not m.by_user:
            content.insert(0, {"type": "thinking", "thinking": f"thought {i}"})
        messages.append(
            {
                "uuid": f"cm-{i}",
                "text": m.text,
                "content": content,
                "sender": "human" if m.by_user else "assistant",
                "created_at": _iso(m.at) if m.at else None,
            }
        )
    return {
        "uuid": f"c-{index}",
        "name": c.title,
        "created_at": _iso(c.created) if c.created else None,
        "chat_messages": messages,
    }


def _chatbot_ui(c: Convo, index: int) -> dict[str, Any]:
    model = c.messages[0].model
    return {
        "id": f"c{index}",
        "name": c.title,
        "model": {"id": model, "name": model.upper()} if model else None,
        "prompt": "",
        "messages": [
            {"role": "user" if m.by_user else "assistant", "content": m.text} for m in c.messages
        ],
    }


WRITERS: dict[str, Callable[[list[Convo]], bytes]] = {
    "librechat-tree": lambda cs: _librechat_upload(cs, tree=True),
    "librechat-flat": lambda cs: _librechat_upload(cs, tree=False),
    "chatgpt": lambda cs: orjson.dumps([_chatgpt(c, i) for i, c in enumerate(cs)]),
    "claude": lambda cs: orjson.dumps([_claude(c, i) for i, c in enumerate(cs)]),
    "chatbot-ui": lambda cs: orjson.dumps(
        {"version": 4, "history": [_chatbot_ui(c, i) for i, c in enumerate(cs)]}
    ),
}
