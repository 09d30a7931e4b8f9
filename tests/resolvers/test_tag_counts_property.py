"""Property: after any sequence of tag and conversation operations, through
REST or GraphQL, every tag's ``count`` is the true number of the user's
conversations carrying it (never negative), positions stay 0..n-1, every tag
on a conversation has a tag document, and the other user's data is untouched."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.database import Database, Document
from tests.utils.factories import ALICE, BOB, auth, conversation_doc, snapshot
from tests.utils.http import gql
from tests.utils.invariants import check_invariants

NAMES = ["t0", "t1", "t2", "a b/c"]
names = st.sampled_from(NAMES)
conversation_index = st.integers(min_value=0, max_value=5)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), names, st.booleans(), conversation_index),
        st.tuples(st.just("set"), conversation_index, st.lists(names, max_size=4)),
        st.tuples(st.just("add"), conversation_index, names),
        st.tuples(st.just("rename"), names, names),
        st.tuples(st.just("move"), names, st.integers(min_value=0, max_value=5)),
        st.tuples(st.just("delete_tag"), names),
        st.tuples(st.just("delete_conversation"), conversation_index),
        st.tuples(st.just("new_conversation")),
        st.tuples(st.just("delete_all")),
    ),
    min_size=3,
    max_size=14,
)
initial_tags = st.lists(st.lists(names, max_size=3, unique=True), min_size=3, max_size=3)

OK = {200, 201}
EXPECTED_REFUSALS = {404, 409}


class World:
    """Alice's conversations, addressed by index (deleted ones stay, and 404)."""

    def __init__(self, client: httpx.AsyncClient, database: Database) -> None:
        self.client = client
        self.database = database
        self.conversation_ids: list[str] = []

    async def new_conversation(self) -> None:
        doc = conversation_doc(ALICE, tags=[])
        await self.database.conversations.insert_one(doc)
        self.conversation_ids.append(doc["conversationId"])

    def cid(self, index: int) -> str:
        return self.conversation_ids[index % len(self.conversation_ids)]

    async def rest(self, method: str, path: str, body: Any = None) -> int:
        response = await self.client.request(method, path, json=body, headers=auth(ALICE))
        return response.status_code

    async def graphql(self, query: str, variables: dict[str, Any]) -> int:
        body = await gql(self.client, query, variables, user=ALICE)
        if "errors" not in body:
            return 200
        codes = {e["extensions"]["code"] for e in body["errors"]}
        assert codes <= {"NOT_FOUND", "CONFLICT"}, body
        return 404 if "NOT_FOUND" in codes else 409

    async def apply(self, op: tuple[Any, ...], via_graphql: bool) -> int:
        kind = op[0]
        if kind == "create":
            _, name, add, index = op
            if via_graphql:
                return await self.graphql(
                    "mutation($t: String!, $c: String) "
                    "{ createTag(input: {tag: $t, conversationId: $c}) { count } }",
                    {"t": name, "c": self.cid(index) if add else None},
                )
            body: dict[str, Any] = {"tag": name}
            if add:
                body.update(addToConversation=True, conversationId=self.cid(index))
            return await self.rest("POST", "/api/tags", body)
        if kind == "set":
            _, index, tags = op
            if via_graphql:
                return await self.graphql(
                    "mutation($c: String!, $t: [String!]!) "
                    "{ setConversationTags(conversationId: $c, tags: $t) { tagNames } }",
                    {"c": self.cid(index), "t": tags},
                )
            return await self.rest("PUT", f"/api/tags/convo/{self.cid(index)}", {"tags": tags})
        if kind == "add":
            _, index, name = op
            if via_graphql:
                return await self.graphql(
                    "mutation($c: String!, $t: String!) "
                    "{ addConversationTag(conversationId: $c, tag: $t) { tagNames } }",
                    {"c": self.cid(index), "t": name},
                )
            return await self.rest("POST", f"/api/tags/convo/{self.cid(index)}", {"tag": name})
        if kind in ("rename", "move"):
            _, name, value = op
            change = {"tag": value} if kind == "rename" else {"position": value}
            if via_graphql:
                return await self.graphql(
                    "mutation($t: String!, $i: UpdateTagInput!) "
                    "{ updateTag(tag: $t, input: $i) { tag } }",
                    {"t": name, "i": change},
                )
            return await self.rest("PUT", "/api/tags/" + quote(name, safe=""), change)
        if kind == "delete_tag":
            if via_graphql:
                return await self.graphql(
                    "mutation($t: String!) { deleteTag(tag: $t) { tag } }", {"t": op[1]}
                )
            return await self.rest("DELETE", "/api/tags/" + quote(op[1], safe=""))
        if kind == "delete_conversation":
            cid = self.cid(op[1])
            if via_graphql:
                return await self.graphql(
                    "mutation($c: String!) { deleteConversation(conversationId: $c) "
                    "{ deletedCount } }",
                    {"c": cid},
                )
            return await self.rest("DELETE", "/api/convos", {"arg": {"conversationId": cid}})
        if kind == "new_conversation":
            await self.new_conversation()
            return 201
        assert kind == "delete_all"
        if via_graphql:
            return await self.graphql("mutation { deleteAllConversations { deletedCount } }", {})
        return await self.rest("DELETE", "/api/convos/all")


def _bobs(snap: dict[str, list[Document]]) -> dict[str, list[Document]]:
    return {name: [d for d in docs if d.get("user") == BOB] for name, docs in snap.items()}


@given(start=initial_tags, ops=operations, edges=st.lists(st.booleans(), min_size=14, max_size=14))
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_tag_counts_and_positions_stay_true_after_any_operations(
    client: httpx.AsyncClient,
    database: Database,
    start: list[list[str]],
    ops: list[tuple[Any, ...]],
    edges: list[bool],
) -> None:
    for collection in (database.conversations, database.messages, database.tags):
        await collection.delete_many({})
    world = World(client, database)
    for index, tags in enumerate(start):
        await world.new_conversation()
        assert await world.apply(("set", index, tags), via_graphql=False) == 200
    bobs = conversation_doc(BOB, tags=[])
    await database.conversations.insert_one(bobs)
    response = await client.post(
        "/api/tags",
        json={"tag": "t0", "addToConversation": True, "conversationId": bobs["conversationId"]},
        headers=auth(BOB),
    )
    assert response.status_code == 200
    bob_before = _bobs(await snapshot(database))

    for op, via_graphql in zip(ops, edges, strict=False):
        status = await world.apply(op, via_graphql)
        assert status in OK | EXPECTED_REFUSALS, (op, status)
        await check_invariants(database, ALICE)
    await check_invariants(database, BOB)
    assert _bobs(await snapshot(database)) == bob_before
