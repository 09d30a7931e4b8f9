"""Invariants of a user's tags that every operation must keep."""

from __future__ import annotations

from collections.abc import Iterable

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
    true_counts = {t["tag"]: carried.get(t["tag"], 0) for t in tags}
    assert counts == true_counts, {
        name: (n, true_counts[name]) for name, n in counts.items() if n != true_counts[name]
    }
    assert set(carried) <= set(counts), (carried, counts)
    assert sorted(t["position"] for t in tags) == list(range(len(tags)))
    assert len({t["tag"] for t in tags}) == len(tags)


async def check_messages_belong(database: Database) -> int:
    """No message belongs to an absent conversation, nor to another user than
    its conversation's; returns how many messages were checked."""
    owners = {
        c["conversationId"]: c["user"]
        async for c in database.conversations.find({}, {"conversationId": 1, "user": 1})
    }
    checked = 0
    strays: list[tuple[str, str]] = []
    async for message in database.messages.find({}, {"conversationId": 1, "user": 1}):
        checked += 1
        if owners.get(message["conversationId"]) != message["user"]:
            strays.append((message["conversationId"], message["user"]))
    assert not strays, f"{len(strays)} messages without their conversation: {strays[:5]}"
    return checked


async def check_store(database: Database, users: Iterable[str]) -> dict[str, int]:
    """Every invariant above for each of ``users``, straight in MongoDB;
    returns how many documents each check covered (for the test's figures).

    Raises:
        AssertionError: naming every invariant that failed, not just the first.
    """
    users = list(users)
    failures: list[str] = []
    for user in users:
        try:
            await check_invariants(database, user)
        except AssertionError as exc:
            failures.append(f"tags of {user}: {exc}")
    try:
        messages = await check_messages_belong(database)
    except AssertionError as exc:
        failures.append(str(exc))
        messages = -1
    assert not failures, "\n".join(failures)
    return {
        "users": len(users),
        "tag documents (count = true count, positions 0..n-1, unique)": (
            await database.tags.count_documents({"user": {"$in": users}})
        ),
        "conversations (tags unique and each with a tag document)": (
            await database.conversations.count_documents({"user": {"$in": users}})
        ),
        "messages (conversation present, same user)": messages,
    }
