"""GET one, rename, archive, pin, delete and delete-all on /api/convos:
status codes, bodies, and the database after each success and each refusal."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from bson import ObjectId

from storage.database import Database
from tests.utils.factories import (
    ALICE,
    BASE_TIME,
    BOB,
    auth,
    insert_conversation,
    insert_thread,
    snapshot,
)

FORBIDDEN = {"error": "Unauthorized", "message": "You don't have access to this conversation"}
NOT_FOUND = {"error": "Conversation not found"}


async def _post(
    client: httpx.AsyncClient, path: str, body: Any, user: str = ALICE
) -> httpx.Response:
    return await client.post(path, json=body, headers=auth(user))


async def _delete(client: httpx.AsyncClient, body: Any, user: str = ALICE) -> httpx.Response:
    content = orjson.dumps(body) if body is not None else None
    headers = {**auth(user), "content-type": "application/json"}
    return await client.request("DELETE", "/api/convos", content=content, headers=headers)


async def _stored(database: Database, cid: str, user: str = ALICE) -> dict[str, Any]:
    doc = await database.conversations.find_one({"conversationId": cid, "user": user})
    assert doc is not None
    return doc


# --- GET /api/convos/:id --------------------------------------------------------


async def test_get_one_serves_every_stored_field_in_json_shapes(
    client: httpx.AsyncClient, database: Database
) -> None:
    ids = [ObjectId(), ObjectId()]
    doc = await insert_conversation(
        database,
        ALICE,
        messages=ids,
        promptPrefix=None,
        stop=["x"],
        agentOptions={"a": 1},
        isTemporary=False,
    )
    response = await client.get(f"/api/convos/{doc['conversationId']}", headers=auth(ALICE))
    assert response.status_code == 200
    body = response.json()
    assert body["messages"] == [str(i) for i in ids]
    assert body["_id"] == str(doc["_id"])
    assert body["createdAt"] == "2024-01-15T10:00:00.000Z"
    assert body["promptPrefix"] is None and body["stop"] == ["x"]
    assert body["agentOptions"] == {"a": 1} and body["isTemporary"] is False
    assert "__v" not in body


async def test_get_one_with_url_encoded_id(client: httpx.AsyncClient, database: Database) -> None:
    doc = await insert_conversation(database, ALICE, conversationId="id with space")
    response = await client.get("/api/convos/id%20with%20space", headers=auth(ALICE))
    assert response.status_code == 200
    assert response.json()["conversationId"] == doc["conversationId"]


async def test_get_one_with_too_long_id_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/convos/" + "x" * 201, headers=auth(ALICE))
    assert response.status_code == 400
    assert "conversationId" in response.json()["error"]


# --- POST /api/convos/update ------------------------------------------------------


async def test_rename_is_201_with_the_whole_trimmed_document(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, temperature=0.5, tags=["t"])
    response = await _post(
        client,
        "/api/convos/update",
        {"arg": {"conversationId": doc["conversationId"], "title": "  Renamed  "}},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["title"] == "Renamed"
    assert body["temperature"] == 0.5 and body["tags"] == ["t"]
    assert body["updatedAt"] > "2024-01-15T10:00:00.000Z"
    assert "__v" not in body
    stored = await _stored(database, doc["conversationId"])
    assert stored["title"] == "Renamed" and stored["updatedAt"] > BASE_TIME
    assert stored["createdAt"] == BASE_TIME and stored["__v"] == 0


async def test_rename_cuts_the_trimmed_title_to_1024(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    title = "   " + "é" * 1000 + "x" * 1000 + "   "
    response = await _post(
        client,
        "/api/convos/update",
        {"arg": {"conversationId": doc["conversationId"], "title": title}},
    )
    assert response.status_code == 201
    assert response.json()["title"] == "é" * 1000 + "x" * 24


@pytest.mark.parametrize("title", ["", "   \n\t "])
async def test_rename_to_an_empty_title_is_allowed(
    client: httpx.AsyncClient, database: Database, title: str
) -> None:
    doc = await insert_conversation(database, ALICE)
    response = await _post(
        client,
        "/api/convos/update",
        {"arg": {"conversationId": doc["conversationId"], "title": title}},
    )
    assert response.status_code == 201
    assert (await _stored(database, doc["conversationId"]))["title"] == ""


@pytest.mark.parametrize(
    ("arg", "error"),
    [
        ({"title": "x"}, "conversationId is required"),
        ({}, "conversationId is required"),
        ({"conversationId": "", "title": "x"}, "conversationId is required"),
        ({"conversationId": None, "title": "x"}, "conversationId is required"),
        ({"conversationId": 12, "title": "x"}, "conversationId must be a string"),
        (
            {"conversationId": "x" * 201, "title": "x"},
            "conversationId must be at most 200 characters",
        ),
        ({"conversationId": "CID"}, "title is required"),
        ({"conversationId": "CID", "title": 123}, "title must be a string"),
        ({"conversationId": "CID", "title": None}, "title must be a string"),
        ({"conversationId": "CID", "title": ["a"]}, "title must be a string"),
        ({"conversationId": "CID", "title": {"a": 1}}, "title must be a string"),
    ],
)
async def test_rename_validation_errors_are_400_and_change_nothing(
    client: httpx.AsyncClient, database: Database, arg: dict[str, Any], error: str
) -> None:
    doc = await insert_conversation(database, ALICE)
    if arg.get("conversationId") == "CID":
        arg = {**arg, "conversationId": doc["conversationId"]}
    before = await snapshot(database)
    response = await _post(client, "/api/convos/update", {"arg": arg})
    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert await snapshot(database) == before


async def test_rename_with_a_flat_body_is_400_conversation_id_required(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    before = await snapshot(database)
    response = await _post(
        client, "/api/convos/update", {"conversationId": doc["conversationId"], "title": "flat"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "conversationId is required"}
    assert await snapshot(database) == before


async def test_rename_of_unknown_conversation_is_404_and_creates_no_stub(
    client: httpx.AsyncClient, database: Database
) -> None:
    await insert_conversation(database, ALICE)
    before = await snapshot(database)
    response = await _post(
        client,
        "/api/convos/update",
        {"arg": {"conversationId": "11111111-1111-1111-1111-111111111111", "title": "ghost"}},
    )
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert await snapshot(database) == before


async def test_rename_of_foreign_conversation_is_403_and_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    before = await snapshot(database)
    response = await _post(
        client,
        "/api/convos/update",
        {"arg": {"conversationId": doc["conversationId"], "title": "hijack"}},
        user=BOB,
    )
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert await snapshot(database) == before


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"arg":', "Invalid JSON body"),
        (b"not json", "Invalid JSON body"),
        (b'{"arg": {"conversationId": "a", "title": "b"},}', "Invalid JSON body"),
        (b"\xff\xfe", "Invalid JSON body"),
        (b'[{"arg": {}}]', "Request body must be a JSON object"),
        (b'"string"', "Request body must be a JSON object"),
        (b'{"arg": "x"}', "arg must be an object"),
        (b'{"arg": [1]}', "arg must be an object"),
    ],
)
async def test_malformed_bodies_are_400_and_change_nothing(
    client: httpx.AsyncClient, database: Database, raw: bytes, error: str
) -> None:
    await insert_conversation(database, ALICE)
    before = await snapshot(database)
    for path in ("/api/convos/update", "/api/convos/archive", "/api/convos/pin"):
        response = await client.post(
            path, content=raw, headers={**auth(ALICE), "content-type": "application/json"}
        )
        assert response.status_code == 400, path
        assert response.json() == {"error": error}, path
    response = await client.request(
        "DELETE",
        "/api/convos",
        content=raw,
        headers={**auth(ALICE), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert await snapshot(database) == before


# --- POST /api/convos/archive -----------------------------------------------------


async def test_archive_sets_archived_at_and_keeps_updated_at(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    cid = doc["conversationId"]
    response = await _post(
        client, "/api/convos/archive", {"arg": {"conversationId": cid, "isArchived": True}}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["isArchived"] is True
    assert isinstance(body["archivedAt"], str) and body["archivedAt"].endswith("Z")
    assert body["updatedAt"] == "2024-01-15T10:00:00.000Z"
    stored = await _stored(database, cid)
    assert stored["isArchived"] is True and stored["updatedAt"] == BASE_TIME
    assert stored["archivedAt"] > BASE_TIME

    response = await _post(
        client, "/api/convos/archive", {"arg": {"conversationId": cid, "isArchived": False}}
    )
    assert response.status_code == 200
    assert response.json()["isArchived"] is False and response.json()["archivedAt"] is None
    stored = await _stored(database, cid)
    assert stored["archivedAt"] is None and stored["updatedAt"] == BASE_TIME


@pytest.mark.parametrize("value", ["true", 1, 0, None, [], {}])
async def test_archive_with_a_non_boolean_is_400(
    client: httpx.AsyncClient, database: Database, value: Any
) -> None:
    doc = await insert_conversation(database, ALICE)
    before = await snapshot(database)
    response = await _post(
        client,
        "/api/convos/archive",
        {"arg": {"conversationId": doc["conversationId"], "isArchived": value}},
    )
    assert response.status_code == 400
    assert response.json() == {"error": "isArchived must be a boolean"}
    assert await snapshot(database) == before


async def test_archive_without_the_flag_or_id_is_400(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    before = await snapshot(database)
    response = await _post(
        client, "/api/convos/archive", {"arg": {"conversationId": doc["conversationId"]}}
    )
    assert (response.status_code, response.json()) == (
        400,
        {"error": "isArchived must be a boolean"},
    )
    response = await _post(
        client, "/api/convos/pin", {"arg": {"conversationId": doc["conversationId"]}}
    )
    assert (response.status_code, response.json()) == (400, {"error": "pinned is required"})
    response = await _post(client, "/api/convos/archive", {"arg": {"isArchived": True}})
    assert response.status_code == 400
    assert response.json() == {"error": "conversationId is required"}
    assert await snapshot(database) == before


async def test_archive_unknown_is_404_and_foreign_is_403(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    before = await snapshot(database)
    unknown = await _post(
        client, "/api/convos/archive", {"arg": {"conversationId": "nope", "isArchived": True}}
    )
    assert (unknown.status_code, unknown.json()) == (404, NOT_FOUND)
    foreign = await _post(
        client,
        "/api/convos/archive",
        {"arg": {"conversationId": doc["conversationId"], "isArchived": True}},
        user=BOB,
    )
    assert (foreign.status_code, foreign.json()) == (403, FORBIDDEN)
    assert await snapshot(database) == before


# --- POST /api/convos/pin ---------------------------------------------------------


async def test_pin_and_unpin_keep_updated_at(client: httpx.AsyncClient, database: Database) -> None:
    doc = await insert_conversation(database, ALICE)
    cid = doc["conversationId"]
    response = await _post(
        client, "/api/convos/pin", {"arg": {"conversationId": cid, "pinned": True}}
    )
    assert response.status_code == 200
    assert response.json()["pinned"] is True
    assert response.json()["updatedAt"] == "2024-01-15T10:00:00.000Z"
    stored = await _stored(database, cid)
    assert stored["pinned"] is True and stored["updatedAt"] == BASE_TIME
    response = await _post(
        client, "/api/convos/pin", {"arg": {"conversationId": cid, "pinned": False}}
    )
    assert response.status_code == 200 and response.json()["pinned"] is False


async def test_pin_errors(client: httpx.AsyncClient, database: Database) -> None:
    doc = await insert_conversation(database, ALICE)
    cid = doc["conversationId"]
    before = await snapshot(database)
    bad = await _post(client, "/api/convos/pin", {"arg": {"conversationId": cid, "pinned": "yes"}})
    assert (bad.status_code, bad.json()) == (400, {"error": "pinned must be a boolean"})
    unknown = await _post(
        client, "/api/convos/pin", {"arg": {"conversationId": "no", "pinned": True}}
    )
    assert (unknown.status_code, unknown.json()) == (404, NOT_FOUND)
    foreign = await _post(
        client, "/api/convos/pin", {"arg": {"conversationId": cid, "pinned": True}}, user=BOB
    )
    assert (foreign.status_code, foreign.json()) == (403, FORBIDDEN)
    assert await snapshot(database) == before


@pytest.mark.parametrize(
    ("arg", "error"),
    [
        # LibreChat's three checks, in its order: id, then presence, then type.
        ({"pinned": "yes"}, "conversationId is required"),
        ({"conversationId": "CID"}, "pinned is required"),
        ({"conversationId": "CID", "pinned": None}, "pinned must be a boolean"),
        ({"conversationId": "CID", "pinned": "true"}, "pinned must be a boolean"),
        ({"conversationId": "CID", "pinned": 1}, "pinned must be a boolean"),
    ],
)
async def test_pin_tells_a_missing_flag_from_a_wrongly_typed_one(
    client: httpx.AsyncClient, database: Database, arg: dict[str, object], error: str
) -> None:
    doc = await insert_conversation(database, ALICE)
    body = {k: doc["conversationId"] if v == "CID" else v for k, v in arg.items()}
    before = await snapshot(database)
    response = await _post(client, "/api/convos/pin", {"arg": body})
    assert (response.status_code, response.json()) == (400, {"error": error})
    assert await snapshot(database) == before


async def test_archive_without_the_flag_says_it_must_be_a_boolean_as_librechat_does(
    client: httpx.AsyncClient, database: Database
) -> None:
    # LibreChat's archive route has no "is required" check: typeof undefined
    # is not 'boolean'.
    doc = await insert_conversation(database, ALICE)
    before = await snapshot(database)
    for arg in (
        {"conversationId": doc["conversationId"]},
        {"conversationId": doc["conversationId"], "isArchived": None},
    ):
        response = await _post(client, "/api/convos/archive", {"arg": arg})
        assert (response.status_code, response.json()) == (
            400,
            {"error": "isArchived must be a boolean"},
        )
    assert await snapshot(database) == before


# --- DELETE /api/convos -------------------------------------------------------------


async def test_delete_is_201_with_mongo_delete_results_and_removes_messages(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    other = await insert_conversation(database, ALICE)
    await insert_thread(database, ALICE, doc["conversationId"], ["a", "b", "c"])
    kept = await insert_thread(database, ALICE, other["conversationId"], ["x"])
    response = await _delete(client, {"arg": {"conversationId": doc["conversationId"]}})
    assert response.status_code == 201
    body = response.json()
    assert body["acknowledged"] is True and body["deletedCount"] == 1
    assert body["messages"] == {"acknowledged": True, "deletedCount": 3}
    gone = {"conversationId": doc["conversationId"]}
    assert await database.conversations.count_documents(gone) == 0
    remaining = await database.messages.find({}).to_list(None)
    assert [m["messageId"] for m in remaining] == [kept[0]["messageId"]]


async def test_delete_with_assistants_fields_is_accepted(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, endpoint="assistants")
    response = await _delete(
        client,
        {
            "arg": {
                "conversationId": doc["conversationId"],
                "thread_id": "thread_1",
                "endpoint": "assistants",
                "source": "button",
            }
        },
    )
    assert response.status_code == 201 and response.json()["deletedCount"] == 1


async def test_delete_lowers_tag_counts_never_below_zero(
    client: httpx.AsyncClient, database: Database
) -> None:
    a = await insert_conversation(database, ALICE)
    b = await insert_conversation(database, ALICE)
    for cid in (a["conversationId"], b["conversationId"]):
        r = await client.put(f"/api/tags/convo/{cid}", json={"tags": ["work"]}, headers=auth(ALICE))
        assert r.status_code == 200
    # A drifted count (LibreChat's increments) is corrected, never made negative.
    await database.tags.update_one({"user": ALICE, "tag": "work"}, {"$set": {"count": 0}})
    response = await _delete(client, {"arg": {"conversationId": a["conversationId"]}})
    assert response.status_code == 201
    tag = await database.tags.find_one({"user": ALICE, "tag": "work"})
    assert tag is not None and tag["count"] == 1
    response = await _delete(client, {"arg": {"conversationId": b["conversationId"]}})
    tag = await database.tags.find_one({"user": ALICE, "tag": "work"})
    assert tag is not None and tag["count"] == 0


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        {"arg": {}},
        {"arg": None},
        {"arg": {"conversationId": ""}},
        {"conversationId": "CID"},
    ],
    ids=["no-body", "empty", "empty-arg", "null-arg", "empty-id", "flat"],
)
async def test_delete_without_parameters_is_400(
    client: httpx.AsyncClient, database: Database, body: Any
) -> None:
    doc = await insert_conversation(database, ALICE)
    if body == {"conversationId": "CID"}:
        body = {"conversationId": doc["conversationId"]}
    before = await snapshot(database)
    response = await _delete(client, body)
    assert response.status_code == 400
    assert response.json() == {"error": "no parameters provided"}
    assert await snapshot(database) == before


@pytest.mark.parametrize(
    "arg", [{"source": "button"}, {"thread_id": "t"}, {"endpoint": "assistants"}]
)
async def test_delete_without_conversation_id_is_400_conversation_id_required(
    client: httpx.AsyncClient, database: Database, arg: dict[str, Any]
) -> None:
    await insert_conversation(database, ALICE)
    before = await snapshot(database)
    response = await _delete(client, {"arg": arg})
    assert response.status_code == 400
    assert response.json() == {"error": "conversationId is required"}
    assert await snapshot(database) == before


async def test_delete_unknown_is_404_twice_deleted_is_404_foreign_is_403(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, tags=["t"])
    await insert_thread(database, ALICE, doc["conversationId"], ["a"])
    before = await snapshot(database)
    unknown = await _delete(client, {"arg": {"conversationId": "nope"}})
    assert (unknown.status_code, unknown.json()) == (404, NOT_FOUND)
    foreign = await _delete(client, {"arg": {"conversationId": doc["conversationId"]}}, user=BOB)
    assert (foreign.status_code, foreign.json()) == (403, FORBIDDEN)
    assert await snapshot(database) == before
    first = await _delete(client, {"arg": {"conversationId": doc["conversationId"]}})
    assert first.status_code == 201
    again = await _delete(client, {"arg": {"conversationId": doc["conversationId"]}})
    assert (again.status_code, again.json()) == (404, NOT_FOUND)


# --- DELETE /api/convos/all -----------------------------------------------------------


async def test_delete_all_removes_the_users_data_and_resets_counts(
    client: httpx.AsyncClient, database: Database
) -> None:
    for _ in range(3):
        doc = await insert_conversation(database, ALICE)
        await insert_thread(database, ALICE, doc["conversationId"], ["a", "b"])
        r = await client.post(
            f"/api/tags/convo/{doc['conversationId']}", json={"tag": "work"}, headers=auth(ALICE)
        )
        assert r.status_code == 200
    temporary = await insert_conversation(database, ALICE, expiredAt=BASE_TIME)
    bobs = await insert_conversation(database, BOB, tags=["work"])
    await insert_thread(database, BOB, bobs["conversationId"], ["b"])
    r = await client.post(
        f"/api/tags/convo/{bobs['conversationId']}", json={"tag": "work"}, headers=auth(BOB)
    )
    assert r.status_code == 200
    bob_before = {
        name: [d for d in docs if d.get("user") == BOB]
        for name, docs in (await snapshot(database)).items()
    }

    response = await client.delete("/api/convos/all", headers=auth(ALICE))
    assert response.status_code == 201
    body = response.json()
    assert body["acknowledged"] is True and body["deletedCount"] == 4
    assert body["messages"] == {"acknowledged": True, "deletedCount": 6}
    assert temporary["conversationId"] in body["conversationIds"]
    assert await database.conversations.count_documents({"user": ALICE}) == 0
    assert await database.messages.count_documents({"user": ALICE}) == 0
    tags = await database.tags.find({"user": ALICE}).to_list(None)
    assert [(t["tag"], t["count"]) for t in tags] == [("work", 0)]
    bob_after = {
        name: [d for d in docs if d.get("user") == BOB]
        for name, docs in (await snapshot(database)).items()
    }
    assert bob_after == bob_before


async def test_delete_all_with_nothing_is_201_with_zero_counts(
    client: httpx.AsyncClient, database: Database
) -> None:
    await insert_conversation(database, BOB)
    before = await snapshot(database)
    response = await client.delete("/api/convos/all", headers=auth(ALICE))
    assert response.status_code == 201
    body = response.json()
    assert body["acknowledged"] is True and body["deletedCount"] == 0
    assert body["messages"] == {"acknowledged": True, "deletedCount": 0}
    assert await snapshot(database) == before
