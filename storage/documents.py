"""What LibreChat's documents hold by default, written once for every layer."""

from __future__ import annotations

from typing import Any, Final

from storage.database import Document

# LibreChat's schema default for a conversation's title: "nobody named it yet".
DEFAULT_TITLE: Final = "New Chat"
# LibreChat's Constants.NO_PARENT: the parentMessageId of a root message.
NO_PARENT: Final = "00000000-0000-0000-0000-000000000000"
# Bookkeeping fields (mongoose's version key, Meilisearch's sync flag) that
# LibreChat never shows a client: a projection that leaves them out.
HIDDEN: Final[dict[str, Any]] = {"__v": 0, "_meiliIndex": 0}


def tag_names(doc: Document) -> list[str]:
    """A conversation's tags as stored, ignoring anything that is not a name."""
    tags = doc.get("tags")
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
