"""Where a search matched inside a conversation: the message and a snippet.

GraphQL's ``Conversation.searchMatches`` (beyond LibreChat, issue 10 item 6)
lets a client jump from a search result to the messages that hold the term.
The rule is the search's own: a case-insensitive literal substring of a
message's ``text`` or of one of its ``content[].text`` parts. Matches come
oldest first (creation time, then id), at most ``first`` per conversation.

With the search index current and a term of 3+ characters, the index
proposes the messages and MongoDB confirms them (read by ``_id``, matched in
Python), so a stale index may return fewer matches, never a wrong one.
Otherwise the page's messages are read in one query and matched in Python.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from resolvers.adapters.services import Services
from resolvers.operations.errors import BadInput
from resolvers.operations.validation import MAX_SEARCH_LENGTH
from storage import messages as message_store
from storage.database import Document
from storage.search_index import literal_pattern, message_texts, normalize, searchable

DEFAULT_MATCHES = 3
MAX_MATCHES = 20
# Characters of context kept on each side of the hit.
SNIPPET_CONTEXT = 40
ELLIPSIS = "\u2026"
# Proposals read beyond ``first`` per conversation, for those a stale index
# row turns down.
_SLACK = 5
_PROJECTION = {
    "messageId": 1,
    "conversationId": 1,
    "user": 1,
    "text": 1,
    "content": 1,
    "createdAt": 1,
}


@dataclass(frozen=True)
class SearchMatch:
    message_id: str
    snippet: str


def check_request(text: str | None, first: int | None) -> tuple[str, int]:
    """The term and count to search for, or BadInput."""
    if text is None or not text.strip():
        raise BadInput("searchMatches needs text (or a conversations search to take it from)")
    if len(text) > MAX_SEARCH_LENGTH:
        raise BadInput(f"text must be at most {MAX_SEARCH_LENGTH} characters")
    count = DEFAULT_MATCHES if first is None else first
    if not 1 <= count <= MAX_MATCHES:
        raise BadInput(f"first must be between 1 and {MAX_MATCHES}")
    return text, count


async def search_matches(
    services: Services, user: str, text: str, conversation_ids: Sequence[str], first: int
) -> dict[str, list[SearchMatch]]:
    """For each conversation, its first ``first`` messages containing ``text``."""
    wanted = set(conversation_ids)
    index = services.search_index
    if index is not None and searchable(normalize(text)) and await index.current():
        proposed = await index.message_proposals(user, text, sorted(wanted), first + _SLACK)
        ids = [m for messages in proposed.values() for m in messages]
        docs = await message_store.find_by_ids(services.database, ids, _PROJECTION)
    else:
        limit = len(wanted) * services.max_messages_per_conversation
        docs = await message_store.for_conversations(
            services.database, user, sorted(wanted), _PROJECTION, limit=limit
        )
    pattern = literal_pattern(text)
    found: dict[str, list[tuple[tuple[bool, datetime, str], SearchMatch]]] = {
        cid: [] for cid in conversation_ids
    }
    for doc in docs:
        cid = doc.get("conversationId")
        if doc.get("user") != user or not isinstance(cid, str) or cid not in wanted:
            continue
        snippet = message_snippet(doc, pattern)
        if snippet is not None:
            found[cid].append((_order(doc), SearchMatch(str(doc.get("messageId") or ""), snippet)))
    return {
        cid: [match for _, match in sorted(matches, key=lambda pair: pair[0])[:first]]
        for cid, matches in found.items()
    }


def _order(doc: Document) -> tuple[bool, datetime, str]:
    """Oldest first; a message without a date (another writer's) sorts first,
    as MongoDB sorts a missing field."""
    created = doc.get("createdAt")
    if isinstance(created, datetime):
        return True, created.replace(tzinfo=None), str(doc.get("_id"))
    return False, datetime.min, str(doc.get("_id"))


def message_snippet(doc: Document, pattern: re.Pattern[str]) -> str | None:
    """The text around the first hit in ``text``, then in ``content[].text``."""
    for value in message_texts(doc):
        hit = pattern.search(value)
        if hit is not None:
            return snippet(value, hit.start(), hit.end())
    return None


def snippet(value: str, start: int, end: int) -> str:
    """``value[start:end]`` with up to SNIPPET_CONTEXT characters each side,
    whitespace runs folded to one space, an ellipsis where text was cut."""
    left = max(0, start - SNIPPET_CONTEXT)
    right = min(len(value), end + SNIPPET_CONTEXT)
    body = " ".join(value[left:right].split())
    return (ELLIPSIS if left > 0 else "") + body + (ELLIPSIS if right < len(value) else "")
