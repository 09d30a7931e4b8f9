"""A branched message tree for fork and duplicate tests, and checks on copies.

```
R  (t0)                      level 0     R2 (t0, a second root)
├── A1 (t1)                  level 1     └── A3 (t1)
│   ├── B1 (t2)              level 2
│   │   └── C1 (t3)          level 3
│   │       └── D1 (t4)      level 4
│   └── B2 (t2, tie)         level 2: a branch at level 2
│       └── C2 (t2, = parent's createdAt)
└── A2 (t1, tie)             level 1: a branch at level 1
    └── B3 (t0, BEFORE its parent: stored order puts it before A2)
```

Labels are the messages' texts, so a copy maps back to its source by text.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from storage.database import Database, Document
from tests.utils.factories import BASE_TIME, NO_PARENT, message_doc

# label -> (parent label or None, seconds after BASE_TIME)
TREE: dict[str, tuple[str | None, int]] = {
    "R": (None, 0),
    "R2": (None, 0),
    "A1": ("R", 1),
    "A2": ("R", 1),
    "A3": ("R2", 1),
    "B1": ("A1", 2),
    "B2": ("A1", 2),
    "B3": ("A2", 0),
    "C1": ("B1", 3),
    "C2": ("B2", 2),
    "D1": ("C1", 4),
}
ALL = set(TREE)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)


async def insert_tree(database: Database, user: str, conversation_id: str) -> dict[str, Document]:
    """Insert the tree above; returns label -> stored document."""
    docs: dict[str, Document] = {}
    for label, (parent, seconds) in TREE.items():
        extra: dict[str, Any] = {}
        if label == "C1":
            extra = {
                "content": [{"type": "text", "text": "C1"}],
                "model": "gpt-4o",
                "tokenCount": 12,
                "feedback": {"rating": "thumbsUp"},
                "unfinished": True,
                "error": True,
            }
        docs[label] = message_doc(
            user,
            conversation_id,
            parent=docs[parent]["messageId"] if parent else NO_PARENT,
            text=label,
            created_at=BASE_TIME + timedelta(seconds=seconds),
            isCreatedByUser=label in {"R", "R2", "B1", "B2", "B3", "D1"},
            **extra,
        )
    await database.messages.insert_many(list(docs.values()))
    return docs


def check_copy(
    messages: list[dict[str, Any]],
    source: dict[str, Document],
    *,
    conversation_id: str,
    user: str,
    expected: set[str],
    roots: set[str],
) -> dict[str, dict[str, Any]]:
    """Assert that ``messages`` (JSON) copy exactly ``expected`` of ``source``.

    Checks: exact label set; new uuid4 ids; every parent resolves (NO_PARENT
    or a message of the copy, listed before it); the copied tree has the
    source's shape, with ``roots`` as its roots; createdAt strictly after the
    parent's; ownership and reset flags. Returns label -> copied message.
    """
    by_label = {m["text"]: m for m in messages}
    assert len(by_label) == len(messages), "each source message is copied once"
    assert set(by_label) == expected
    source_ids = {d["messageId"] for d in source.values()}
    label_of = {m["messageId"]: m["text"] for m in messages}
    seen: set[str] = set()
    for message in messages:
        label = message["text"]
        assert message["messageId"] not in source_ids
        assert uuid.UUID(message["messageId"]).version == 4
        assert message["conversationId"] == conversation_id
        assert message["user"] == user
        assert message["unfinished"] is False and message["error"] is False
        parent_id = message["parentMessageId"]
        if label in roots:
            assert parent_id == NO_PARENT, label
        else:
            assert parent_id in seen, f"{label}'s parent is missing or comes after it"
            source_parent = TREE[label][0]
            assert label_of[parent_id] == source_parent, label
            parent = next(m for m in messages if m["messageId"] == parent_id)
            assert parse_time(message["createdAt"]) > parse_time(parent["createdAt"]), label
        seen.add(message["messageId"])
    return by_label
