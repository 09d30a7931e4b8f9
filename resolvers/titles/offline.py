"""A title generator that needs no network and no model."""

from __future__ import annotations

from collections.abc import Sequence

from resolvers.titles.clean import clean_title
from resolvers.titles.generator import TitleSource, first_text
from resolvers.titles.offline_code import code_title, find_snippet
from resolvers.titles.offline_prose import GREETING_TITLES, prose_title

WINDOW_CHARS = 600
"""Characters read from each message: the topic is at the start, and the work stays bounded."""
FALLBACK_TITLE = "Untitled conversation"
"""For messages with no words at all (attachments only, empty imports).

Deliberately not LibreChat's "New Chat": that one marks a conversation
still waiting for a title, and would have it generated again and again.
"""


class OfflineTitleGenerator:
    """Derive a short title from a conversation's first messages.

    Deterministic and local: the first user message decides (a code snippet
    becomes "Python: fix IndexError", a request its key clause, "How do I
    cook pasta?" becomes "How to cook pasta"); the assistant's reply is
    used when the user only said hello; a greeting-only exchange is titled
    "Greeting" in the greeting's language. Never raises.
    """

    async def generate(self, messages: Sequence[TitleSource]) -> str:
        """Return a title for ``messages``; see the class docstring."""
        return derive_title(messages)


def derive_title(messages: Sequence[TitleSource]) -> str:
    """The offline generator's rules, as a plain function for callers without a loop."""
    user = first_text(messages, "user")[:WINDOW_CHARS]
    assistant = first_text(messages, "assistant")[:WINDOW_CHARS]
    snippet = find_snippet(user)
    if snippet is not None:
        return clean_title(code_title(snippet)) or FALLBACK_TITLE
    asked = prose_title(user)
    if asked.title:
        return clean_title(asked.title) or FALLBACK_TITLE
    answered = prose_title(assistant)
    if answered.title:
        return clean_title(answered.title) or FALLBACK_TITLE
    if asked.link:
        return clean_title(asked.link) or FALLBACK_TITLE
    greeting = asked.greeting or answered.greeting
    if greeting:
        return GREETING_TITLES[greeting]
    return FALLBACK_TITLE
