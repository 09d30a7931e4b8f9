"""Invariants of a user's tags that every operation must keep."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

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


# Kinds of problem :func:`survey_store` reports.
WRONG_COUNT = "tag count differs from the true count"
BAD_POSITIONS = "tag positions not 0..n-1 or names not unique"
DUPLICATE_ON_CONVERSATION = "a conversation carries a tag twice"
TAG_WITHOUT_DOCUMENT = "a conversation carries a tag that has no tag document"
STRAY_MESSAGE = "a message without its conversation (or of another user)"


@dataclass
class Survey:
    """What :func:`survey_store` looked at, and every problem found, by kind."""

    checked: dict[str, int] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def kinds(self) -> set[str]:
        return {kind for kind, found in self.problems.items() if found}


async def survey_store(database: Database, users: Iterable[str]) -> Survey:
    """The invariants of :func:`check_invariants` for each of ``users``, and
    every message's conversation, straight in MongoDB; collects every
    problem instead of stopping at the first, so a test can tell a known gap
    from a new one."""
    survey = Survey()
    users = list(users)
    tag_documents = conversations_seen = 0
    for user in users:
        tags = await database.tags.find({"user": user}).to_list(None)
        conversations = await database.conversations.find({"user": user}, {"tags": 1}).to_list(None)
        tag_documents += len(tags)
        conversations_seen += len(conversations)
        carried: Counter[str] = Counter()
        for conversation in conversations:
            names_on = conversation.get("tags", [])
            if len(names_on) != len(set(names_on)):
                survey.problems[DUPLICATE_ON_CONVERSATION].append(f"{user}: {names_on}")
            carried.update(set(names_on))
        for tag in tags:
            if tag["count"] != carried[tag["tag"]]:
                survey.problems[WRONG_COUNT].append(
                    f"{user} {tag['tag']!r}: count {tag['count']}, true {carried[tag['tag']]}"
                )
        names = {t["tag"] for t in tags}
        if sorted(t["position"] for t in tags) != list(range(len(tags))) or len(names) != len(tags):
            survey.problems[BAD_POSITIONS].append(
                f"{user}: {sorted((t['position'], t['tag']) for t in tags)}"
            )
        for name in set(carried) - names:
            survey.problems[TAG_WITHOUT_DOCUMENT].append(
                f"{user} {name!r} on {carried[name]} conversation(s)"
            )
    owners = {
        c["conversationId"]: c["user"]
        async for c in database.conversations.find({}, {"conversationId": 1, "user": 1})
    }
    messages = 0
    async for message in database.messages.find({}, {"conversationId": 1, "user": 1}):
        messages += 1
        if owners.get(message["conversationId"]) != message["user"]:
            survey.problems[STRAY_MESSAGE].append(
                f"{message['user']} message of {message['conversationId']}"
            )
    survey.checked = {
        "users": len(users),
        "tag documents (count = true count, positions 0..n-1, unique)": tag_documents,
        "conversations (no tag twice, each tag with a document)": conversations_seen,
        "messages (conversation present, same user)": messages,
    }
    return survey
