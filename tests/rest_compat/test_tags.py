"""Every /api/tags route: shapes, counts, positions, encoded names, errors."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from storage.database import Database
from tests.utils.factories import ALICE, BASE_TIME, BOB, auth, insert_conversation, snapshot

TAG_NOT_FOUND = {"error": "Tag not found"}
NOT_FOUND = {"error": "Conversation not found"}
FORBIDDEN = {"error": "Unauthorized", "message": "You don't have access to this conversation"}


def _path(tag: str) -> str:
    # What the real client does: encodeURIComponent(tag).
    return "/api/tags/" + quote(tag, safe="")


async def _create(client: httpx.AsyncClient, user: str = ALICE, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/tags", json=body, headers=auth(user))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def _tags(client: httpx.AsyncClient, user: str = ALICE) -> list[dict[str, Any]]:
    response = await client.get("/api/tags", headers=auth(user))
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.json()
    return result


async def _order(client: httpx.AsyncClient) -> list[tuple[str, int]]:
    return [(t["tag"], t["position"]) for t in await _tags(client)]


async def _conversation_tags(database: Database, cid: str) -> list[str]:
    doc = await database.conversations.find_one({"conversationId": cid})
    assert doc is not None
    tags: list[str] = doc.get("tags", [])
    return tags


# --- GET /api/tags and POST /api/tags ---------------------------------------------


async def test_no_tags_is_an_empty_array(client: httpx.AsyncClient) -> None:
    assert await _tags(client) == []


async def test_create_returns_the_tag_and_appends_positions(
    client: httpx.AsyncClient,
) -> None:
    work = await _create(client, tag="work", description="Work stuff")
    assert work["tag"] == "work" and work["description"] == "Work stuff"
    assert work["user"] == ALICE and work["count"] == 0 and work["position"] == 0
    assert len(work["_id"]) == 24 and work["createdAt"].endswith("Z")
    assert "__v" not in work
    home = await _create(client, tag="home")
    assert home["position"] == 1 and home.get("description") is None
    assert await _order(client) == [("work", 0), ("home", 1)]
    assert await _tags(client, BOB) == []


async def test_creating_an_existing_tag_returns_it_unchanged(
    client: httpx.AsyncClient, database: Database
) -> None:
    first = await _create(client, tag="work", description="original")
    before = await snapshot(database)
    again = await _create(client, tag="work", description="other")
    assert again == first
    assert await snapshot(database) == before


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "tag is required"),
        ({"tag": ""}, "tag is required"),
        ({"tag": "   "}, "tag is required"),
        ({"tag": None}, "tag is required"),
        ({"tag": 5}, "tag must be a string"),
        ({"tag": ["a"]}, "tag must be a string"),
        ({"tag": "x" * 257}, "tag must be at most 256 characters"),
        ({"tag": "t", "description": 5}, "description must be a string"),
        ({"tag": "t", "description": "d" * 2049}, "description must be at most 2048 characters"),
        (
            {"tag": "t", "addToConversation": "yes", "conversationId": "c"},
            "addToConversation must be a boolean",
        ),
        ({"tag": "t", "addToConversation": True}, "conversationId is required"),
    ],
)
async def test_create_validation_errors_are_400_and_change_nothing(
    client: httpx.AsyncClient, database: Database, body: dict[str, Any], error: str
) -> None:
    before = await snapshot(database)
    response = await client.post("/api/tags", json=body, headers=auth(ALICE))
    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert await snapshot(database) == before


async def test_create_with_add_to_conversation_tags_it_and_counts(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, tags=["old"])
    tag = await _create(
        client,
        tag="travel",
        description="Trips",
        addToConversation=True,
        conversationId=doc["conversationId"],
    )
    assert tag["tag"] == "travel" and tag["count"] == 1
    assert await _conversation_tags(database, doc["conversationId"]) == ["old", "travel"]
    stored = await database.conversations.find_one({"conversationId": doc["conversationId"]})
    assert stored is not None and stored["updatedAt"] > BASE_TIME
    # An existing tag added to another conversation: count follows.
    other = await insert_conversation(database, ALICE)
    again = await _create(
        client, tag="travel", addToConversation=True, conversationId=other["conversationId"]
    )
    assert again["count"] == 2 and again["description"] == "Trips"


async def test_create_with_add_to_unknown_or_foreign_conversation_creates_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    bobs = await insert_conversation(database, BOB)
    before = await snapshot(database)
    response = await client.post(
        "/api/tags",
        json={"tag": "x", "addToConversation": True, "conversationId": "nope"},
        headers=auth(ALICE),
    )
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    response = await client.post(
        "/api/tags",
        json={"tag": "x", "addToConversation": True, "conversationId": bobs["conversationId"]},
        headers=auth(ALICE),
    )
    assert (response.status_code, response.json()) == (403, FORBIDDEN)
    assert await snapshot(database) == before


async def test_create_with_add_to_conversation_false_ignores_the_id(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    tag = await _create(
        client, tag="x", addToConversation=False, conversationId=doc["conversationId"]
    )
    assert tag["count"] == 0
    assert await _conversation_tags(database, doc["conversationId"]) == []


# --- GET /api/tags/list ----------------------------------------------------------


async def test_list_page_needs_page_number(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/tags/list", headers=auth(ALICE))
    assert (response.status_code, response.json()) == (400, {"error": "pageNumber is required"})
    for bad in ("0", "abc", "-1"):
        response = await client.get(f"/api/tags/list?pageNumber={bad}", headers=auth(ALICE))
        assert response.status_code == 400
        assert "pageNumber" in response.json()["error"]


async def test_list_page_sorts_and_pages(client: httpx.AsyncClient, database: Database) -> None:
    for name in ("b", "c", "a"):
        await _create(client, tag=name)
    convos = [await insert_conversation(database, ALICE) for _ in range(2)]
    await client.put(
        f"/api/tags/convo/{convos[0]['conversationId']}",
        json={"tags": ["c", "a"]},
        headers=auth(ALICE),
    )
    await client.put(
        f"/api/tags/convo/{convos[1]['conversationId']}", json={"tags": ["c"]}, headers=auth(ALICE)
    )

    async def names(query: str) -> list[str]:
        response = await client.get(f"/api/tags/list?{query}", headers=auth(ALICE))
        assert response.status_code == 200, response.text
        return [t["tag"] for t in response.json()["tags"]]

    assert await names("pageNumber=1") == ["b", "c", "a"]
    assert await names("pageNumber=1&sort=name&order=asc") == ["a", "b", "c"]
    assert await names("pageNumber=1&sort=name&order=desc") == ["c", "b", "a"]
    assert await names("pageNumber=1&sort=count&order=desc") == ["c", "a", "b"]
    assert await names("pageNumber=1&sort=position&order=desc") == ["a", "c", "b"]
    assert await names("pageNumber=1&sort=createdAt&order=asc") == ["b", "c", "a"]
    assert len(await names("pageNumber=1&sort=updatedAt&order=desc")) == 3
    response = await client.get(
        "/api/tags/list?pageNumber=2&pageSize=2&sort=name", headers=auth(ALICE)
    )
    body = response.json()
    assert [t["tag"] for t in body["tags"]] == ["c"]
    assert (body["pageNumber"], body["pageSize"], body["pages"]) == (2, 2, 2)
    for bad in ("sort=colour", "order=sideways"):
        response = await client.get(f"/api/tags/list?pageNumber=1&{bad}", headers=auth(ALICE))
        assert response.status_code == 400


async def test_list_page_with_a_huge_page_number_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/tags/list?pageNumber=999999999999999999", headers=auth(ALICE))
    assert (response.status_code, response.json()) == (
        400,
        {"error": "pageNumber must be at most 20000000"},
    )
    response = await client.get(
        "/api/tags/list?pageNumber=20000000&pageSize=100", headers=auth(ALICE)
    )
    assert response.status_code == 200 and response.json()["tags"] == []


async def test_list_page_of_no_tags(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/tags/list?pageNumber=1", headers=auth(ALICE))
    assert response.json() == {"tags": [], "pageNumber": 1, "pageSize": 25, "pages": 1}


# --- PUT /api/tags/:tag ----------------------------------------------------------


async def test_rename_follows_onto_every_conversation(
    client: httpx.AsyncClient, database: Database
) -> None:
    a = await insert_conversation(database, ALICE, tags=["x", "work", "y"])
    b = await insert_conversation(database, ALICE, tags=["work"])
    bobs = await insert_conversation(database, BOB, tags=["work"])
    await _create(client, tag="work", description="d")
    await client.put(
        f"/api/tags/convo/{a['conversationId']}",
        json={"tags": ["x", "work", "y"]},
        headers=auth(ALICE),
    )
    response = await client.put("/api/tags/work", json={"tag": "job"}, headers=auth(ALICE))
    assert response.status_code == 200
    body = response.json()
    assert body["tag"] == "job" and body["description"] == "d" and body["count"] == 2
    assert await _conversation_tags(database, a["conversationId"]) == ["x", "job", "y"]
    assert await _conversation_tags(database, b["conversationId"]) == ["job"]
    assert await _conversation_tags(database, bobs["conversationId"]) == ["work"]
    listed = await client.get("/api/convos", params={"tags": "job"}, headers=auth(ALICE))
    assert len(listed.json()["conversations"]) == 2


async def test_rename_onto_an_existing_tag_is_409_and_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    await insert_conversation(database, ALICE, tags=["work", "home"])
    await _create(client, tag="work")
    await _create(client, tag="home")
    before = await snapshot(database)
    response = await client.put("/api/tags/work", json={"tag": "home"}, headers=auth(ALICE))
    assert (response.status_code, response.json()) == (409, {"error": "Tag already exists"})
    assert await snapshot(database) == before


async def test_rename_onto_another_users_tag_name_is_fine(
    client: httpx.AsyncClient,
) -> None:
    await _create(client, user=BOB, tag="home")
    await _create(client, tag="work")
    response = await client.put("/api/tags/work", json={"tag": "home"}, headers=auth(ALICE))
    assert response.status_code == 200 and response.json()["tag"] == "home"


async def test_update_description_only(client: httpx.AsyncClient) -> None:
    await _create(client, tag="work", description="a")
    response = await client.put("/api/tags/work", json={"description": "b"}, headers=auth(ALICE))
    assert response.status_code == 200
    assert (response.json()["tag"], response.json()["description"]) == ("work", "b")


@pytest.mark.parametrize(
    ("move", "target", "expected"),
    [
        ("a", 2, ["b", "c", "a", "d"]),
        ("d", 1, ["a", "d", "b", "c"]),
        ("b", 0, ["b", "a", "c", "d"]),
        ("c", 3, ["a", "b", "d", "c"]),
        ("a", 99, ["b", "c", "d", "a"]),
        ("b", 1, ["a", "b", "c", "d"]),
    ],
)
async def test_moving_a_tag_shifts_the_others(
    client: httpx.AsyncClient, move: str, target: int, expected: list[str]
) -> None:
    for name in "abcd":
        await _create(client, tag=name)
    response = await client.put(f"/api/tags/{move}", json={"position": target}, headers=auth(ALICE))
    assert response.status_code == 200
    assert response.json()["position"] == expected.index(move)
    assert await _order(client) == [(name, i) for i, name in enumerate(expected)]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"position": -1}, "position must be at least 0"),
        ({"position": "2"}, "position must be an integer"),
        ({"position": 1.5}, "position must be an integer"),
        ({"position": True}, "position must be an integer"),
        ({"tag": ""}, "tag is required"),
        ({"tag": 3}, "tag must be a string"),
        ({"description": ["x"]}, "description must be a string"),
    ],
)
async def test_update_validation_errors_are_400(
    client: httpx.AsyncClient, database: Database, body: dict[str, Any], error: str
) -> None:
    await _create(client, tag="a")
    await _create(client, tag="b")
    before = await snapshot(database)
    response = await client.put("/api/tags/a", json=body, headers=auth(ALICE))
    assert (response.status_code, response.json()) == (400, {"error": error})
    assert await snapshot(database) == before


async def test_tag_names_in_the_path_are_bounded(client: httpx.AsyncClient) -> None:
    for method in ("PUT", "DELETE"):
        response = await client.request(
            method, "/api/tags/" + "x" * 257, json={"tag": "y"}, headers=auth(ALICE)
        )
        assert (response.status_code, response.json()) == (
            400,
            {"error": "tag must be at most 256 characters"},
        )


async def test_renaming_or_deleting_a_tag_touches_its_conversations_updated_at(
    client: httpx.AsyncClient, database: Database
) -> None:
    tagged = await insert_conversation(database, ALICE)
    untouched = await insert_conversation(database, ALICE, tags=["other"])
    await _create(
        client, tag="work", addToConversation=True, conversationId=tagged["conversationId"]
    )
    await database.conversations.update_many({}, {"$set": {"updatedAt": BASE_TIME}})
    await client.put("/api/tags/work", json={"tag": "job"}, headers=auth(ALICE))
    stored = await database.conversations.find_one({"conversationId": tagged["conversationId"]})
    assert stored is not None and stored["updatedAt"] > BASE_TIME
    await database.conversations.update_many({}, {"$set": {"updatedAt": BASE_TIME}})
    await client.delete("/api/tags/job", headers=auth(ALICE))
    stored = await database.conversations.find_one({"conversationId": tagged["conversationId"]})
    assert stored is not None and stored["updatedAt"] > BASE_TIME
    other = await database.conversations.find_one({"conversationId": untouched["conversationId"]})
    assert other is not None and other["updatedAt"] == BASE_TIME


async def test_update_unknown_tag_is_404(client: httpx.AsyncClient, database: Database) -> None:
    await _create(client, user=BOB, tag="bobs")
    before = await snapshot(database)
    for name in ("nosuchtag", "bobs"):
        response = await client.put(_path(name), json={"tag": "x"}, headers=auth(ALICE))
        assert (response.status_code, response.json()) == (404, TAG_NOT_FOUND)
    assert await snapshot(database) == before


# --- DELETE /api/tags/:tag -------------------------------------------------------


async def test_delete_returns_the_tag_pulls_it_and_closes_the_gap(
    client: httpx.AsyncClient, database: Database
) -> None:
    for name in "abcd":
        await _create(client, tag=name)
    doc = await insert_conversation(database, ALICE)
    await client.put(
        f"/api/tags/convo/{doc['conversationId']}",
        json={"tags": ["a", "b", "c"]},
        headers=auth(ALICE),
    )
    bobs = await insert_conversation(database, BOB, tags=["b"])
    response = await client.delete("/api/tags/b", headers=auth(ALICE))
    assert response.status_code == 200
    assert response.json()["tag"] == "b" and response.json()["count"] == 1
    assert await _order(client) == [("a", 0), ("c", 1), ("d", 2)]
    assert await _conversation_tags(database, doc["conversationId"]) == ["a", "c"]
    assert await _conversation_tags(database, bobs["conversationId"]) == ["b"]
    again = await client.delete("/api/tags/b", headers=auth(ALICE))
    assert (again.status_code, again.json()) == (404, TAG_NOT_FOUND)


# --- PUT /api/tags/convo/:id -------------------------------------------------------


async def test_set_conversation_tags_creates_unknown_tags_and_counts_follow(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _create(client, tag="work")
    doc = await insert_conversation(database, ALICE)
    cid = doc["conversationId"]
    response = await client.put(
        f"/api/tags/convo/{cid}", json={"tags": ["work", "travel", "work"]}, headers=auth(ALICE)
    )
    assert (response.status_code, response.json()) == (200, ["work", "travel"])
    assert await _conversation_tags(database, cid) == ["work", "travel"]
    tags = {t["tag"]: t for t in await _tags(client)}
    assert tags["work"]["count"] == 1 and tags["travel"]["count"] == 1
    assert tags["travel"]["position"] == 1
    stored = await database.conversations.find_one({"conversationId": cid})
    assert stored is not None and stored["updatedAt"] > BASE_TIME

    response = await client.put(
        f"/api/tags/convo/{cid}", json={"tags": ["travel"]}, headers=auth(ALICE)
    )
    assert response.json() == ["travel"]
    tags = {t["tag"]: t for t in await _tags(client)}
    assert tags["work"]["count"] == 0 and tags["travel"]["count"] == 1

    response = await client.put(f"/api/tags/convo/{cid}", json={"tags": []}, headers=auth(ALICE))
    assert response.json() == []
    assert all(t["count"] == 0 for t in await _tags(client))


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "tags is required"),
        ({"tags": None}, "tags is required"),
        ({"tags": "work"}, "tags must be an array of strings"),
        ({"tags": [1]}, "tags must be an array of strings"),
        ({"tags": [""]}, "tag is required"),
        ({"tags": ["x" * 257]}, "tag must be at most 256 characters"),
        ({"tags": [f"t{i}" for i in range(257)]}, "tags must have at most 256 items"),
    ],
)
async def test_set_conversation_tags_validation_is_400(
    client: httpx.AsyncClient, database: Database, body: dict[str, Any], error: str
) -> None:
    doc = await insert_conversation(database, ALICE, tags=["keep"])
    before = await snapshot(database)
    response = await client.put(
        f"/api/tags/convo/{doc['conversationId']}", json=body, headers=auth(ALICE)
    )
    assert (response.status_code, response.json()) == (400, {"error": error})
    assert await snapshot(database) == before


async def test_set_tags_on_unknown_or_foreign_conversation_creates_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, tags=["a"])
    before = await snapshot(database)
    response = await client.put(
        "/api/tags/convo/22222222-2222-2222-2222-222222222222",
        json={"tags": ["work"]},
        headers=auth(ALICE),
    )
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    response = await client.put(
        f"/api/tags/convo/{doc['conversationId']}", json={"tags": ["bobtag"]}, headers=auth(BOB)
    )
    assert (response.status_code, response.json()) == (403, FORBIDDEN)
    response = await client.post(
        f"/api/tags/convo/{doc['conversationId']}", json={"tag": "bobtag"}, headers=auth(BOB)
    )
    assert (response.status_code, response.json()) == (403, FORBIDDEN)
    response = await client.post("/api/tags/convo/nope", json={"tag": "x"}, headers=auth(ALICE))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert await snapshot(database) == before


# --- POST /api/tags/convo/:id ------------------------------------------------------


async def test_add_one_tag_is_idempotent(client: httpx.AsyncClient, database: Database) -> None:
    doc = await insert_conversation(database, ALICE, tags=["a"])
    cid = doc["conversationId"]
    for _ in range(2):
        response = await client.post(
            f"/api/tags/convo/{cid}", json={"tag": "new"}, headers=auth(ALICE)
        )
        assert (response.status_code, response.json()) == (200, ["a", "new"])
    tags = {t["tag"]: t for t in await _tags(client)}
    assert tags["new"]["count"] == 1
    response = await client.post(f"/api/tags/convo/{cid}", json={}, headers=auth(ALICE))
    assert (response.status_code, response.json()) == (400, {"error": "tag is required"})


# --- names with spaces, slashes and non-ASCII in the path -----------------------------


@pytest.mark.parametrize("name", ["a b/c", "convo", "convo/x", "café ☕", "100%", "a+b?c#d"])
async def test_tags_with_special_characters_round_trip_through_the_path(
    client: httpx.AsyncClient, database: Database, name: str
) -> None:
    doc = await insert_conversation(database, ALICE)
    await _create(client, tag=name, addToConversation=True, conversationId=doc["conversationId"])
    response = await client.put(_path(name), json={"description": "d"}, headers=auth(ALICE))
    assert response.status_code == 200, response.text
    assert (response.json()["tag"], response.json()["description"]) == (name, "d")
    response = await client.put(_path(name), json={"tag": name + "!"}, headers=auth(ALICE))
    assert response.status_code == 200 and response.json()["tag"] == name + "!"
    assert await _conversation_tags(database, doc["conversationId"]) == [name + "!"]
    response = await client.delete(_path(name + "!"), headers=auth(ALICE))
    assert response.status_code == 200 and response.json()["tag"] == name + "!"
    assert await _tags(client) == []
    assert await _conversation_tags(database, doc["conversationId"]) == []


async def test_conversation_ids_are_decoded_in_tag_convo_paths(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, conversationId="id with/slash")
    response = await client.put(
        "/api/tags/convo/" + quote(doc["conversationId"], safe=""),
        json={"tags": ["t"]},
        headers=auth(ALICE),
    )
    assert (response.status_code, response.json()) == (200, ["t"])
