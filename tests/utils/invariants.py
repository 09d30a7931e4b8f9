"""Invariants of a user's tags that every operation must keep."""

from __future__ import annotations

from storage.database import Database


async def check_invariants(database: Database, user: str) -> None:
    """Counts equal the true number of the user's conversations carrying each
    tag (never negative), positions are 0..n-1, names are unique, and every tag
    on a conversation has a tag document."""
    tags = await database.tags.find({"user": user}).to_list(None)
    conversations = await database.conversations.find({"user": user}).to_list(None)
    carried: dict[str, int] = {}
    for conversation in conversations:
        names_on = conversation.get("tags", [])
        assert len(names_on) == len(set(names_on)), conversation
        for name in names_on:
            carried[name] = carried.get(name, 0) + 1
    counts = {t["tag"]: t["count"] for t in tags}
    assert all(n >= 0 for n in counts.values()), counts
    assert counts == {t["tag"]: carried.get(t["tag"], 0) for t in tags}
    assert set(carried) <= set(counts), (carried, counts)
    assert sorted(t["position"] for t in tags) == list(range(len(tags)))
    assert len({t["tag"] for t in tags}) == len(tags)
