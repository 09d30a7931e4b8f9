"""Fields LibreChat's schemas give its documents, so its own search stays in sync.

LibreChat's Meilisearch plugin adds ``_meiliIndex`` (default false) to
conversations and messages and re-indexes whatever its sync query
``{expiredAt: null, _meiliIndex: false}`` finds. A document the gateway creates,
or whose indexed fields (a conversation's title or tags, a message's text) it
changes, is therefore written with ``_meiliIndex: false``; LibreChat flips it
to true once Meilisearch has it. ``expiredAt: null`` (not temporary) and
``__v: 0`` are what Mongoose writes on a new document.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from storage.database import Document

# Merged into every ``$set`` that changes a field LibreChat's search indexes.
REINDEX: dict[str, Any] = {"_meiliIndex": False}


def new_document(doc: Document) -> Document:
    """``doc`` with the fields Mongoose gives a new conversation or message.

    A copy, so a caller's document (often returned to the client) never shows
    the internal fields; an ``expiredAt`` or ``__v`` the caller set is kept,
    ``_meiliIndex`` is always false (nothing new is in Meilisearch yet).
    """
    return {"expiredAt": None, "__v": 0, **doc, "_meiliIndex": False}


def new_documents(docs: Iterable[Document]) -> list[Document]:
    return [new_document(d) for d in docs]
