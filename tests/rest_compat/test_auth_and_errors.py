"""Authentication failures, unknown routes and oversized bodies answer in
LibreChat's JSON shapes, on every route, and change nothing."""

from __future__ import annotations

import base64
import time
import warnings

import httpx
import jwt
import orjson
import pytest

from storage.database import Database
from tests.utils.factories import (
    ALICE,
    JWT_SECRET,
    auth,
    insert_conversation,
    snapshot,
    token,
)
from tests.utils.http import error_codes, gql

# Every REST route, with a body that would be valid for an authenticated caller.
ROUTES: list[tuple[str, str, object]] = [
    ("GET", "/api/convos", None),
    ("GET", "/api/convos/some-id", None),
    ("POST", "/api/convos/update", {"arg": {"conversationId": "some-id", "title": "x"}}),
    ("POST", "/api/convos/archive", {"arg": {"conversationId": "some-id", "isArchived": True}}),
    ("POST", "/api/convos/pin", {"arg": {"conversationId": "some-id", "pinned": True}}),
    ("DELETE", "/api/convos", {"arg": {"conversationId": "some-id"}}),
    ("DELETE", "/api/convos/all", None),
    ("GET", "/api/search/enable", None),
    ("GET", "/api/tags", None),
    ("GET", "/api/tags/list?pageNumber=1", None),
    ("POST", "/api/tags", {"tag": "work"}),
    ("PUT", "/api/tags/work", {"description": "d"}),
    ("DELETE", "/api/tags/work", None),
    ("PUT", "/api/tags/convo/some-id", {"tags": ["a"]}),
    ("POST", "/api/tags/convo/some-id", {"tag": "a"}),
]


def _b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


def _alg_none_token() -> str:
    now = int(time.time())
    header = _b64url({"alg": "none", "typ": "JWT"})
    payload = _b64url({"id": ALICE, "iat": now, "exp": now + 3600})
    return f"{header}.{payload}."


def _token_without_id() -> str:
    now = int(time.time())
    return jwt.encode({"sub": ALICE, "iat": now, "exp": now + 3600}, JWT_SECRET, algorithm="HS256")


async def _send(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: object,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    content = orjson.dumps(body) if body is not None else None
    sent = {"content-type": "application/json", **(headers or {})}
    return await client.request(method, path, content=content, headers=sent)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_every_route_without_token_is_401_no_auth_token_and_changes_nothing(
    client: httpx.AsyncClient, database: Database, method: str, path: str, body: object
) -> None:
    await insert_conversation(database, ALICE, conversationId="some-id", tags=["work"])
    before = await snapshot(database)
    response = await _send(client, method, path, body)
    assert response.status_code == 401
    assert response.json() == {"message": "No auth token"}
    assert await snapshot(database) == before


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        ("Bearer not-a-jwt", "jwt malformed"),
        (f"Bearer {token(ALICE, ttl_s=-3600)}", "jwt expired"),
        (
            f"Bearer {token(ALICE, secret='another-secret-that-is-long-enough-0123456789')}",
            "invalid signature",
        ),
        ("Basic YWxpY2U6c2VjcmV0", "No auth token"),
        ("Bearer ", "No auth token"),
    ],
    ids=["garbage", "expired", "wrong-secret", "basic-scheme", "empty-bearer"],
)
async def test_invalid_tokens_are_401_naming_the_reason(
    client: httpx.AsyncClient, database: Database, authorization: str, message: str
) -> None:
    await insert_conversation(database, ALICE, conversationId="some-id")
    before = await snapshot(database)
    for method, path, body in ROUTES:
        response = await _send(client, method, path, body, {"Authorization": authorization})
        assert response.status_code == 401, (method, path)
        assert response.json() == {"message": message}, (method, path)
    assert await snapshot(database) == before


@pytest.mark.parametrize(
    "bad_token", [_alg_none_token(), _token_without_id()], ids=["alg-none", "no-id-claim"]
)
async def test_alg_none_and_tokens_without_id_are_401(
    client: httpx.AsyncClient, database: Database, bad_token: str
) -> None:
    await insert_conversation(database, ALICE, conversationId="some-id")
    before = await snapshot(database)
    for method, path, body in ROUTES:
        response = await _send(client, method, path, body, {"Authorization": f"Bearer {bad_token}"})
        assert response.status_code == 401, (method, path)
        assert isinstance(response.json()["message"], str)
    assert await snapshot(database) == before


async def test_token_with_non_string_id_is_401(client: httpx.AsyncClient) -> None:
    now = int(time.time())
    numeric = jwt.encode({"id": 42, "iat": now, "exp": now + 60}, JWT_SECRET, algorithm="HS256")
    response = await client.get("/api/convos", headers={"Authorization": f"Bearer {numeric}"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "No auth token"),
        ("Bearer not-a-jwt", "jwt malformed"),
        (f"Bearer {token(ALICE, ttl_s=-3600)}", "jwt expired"),
    ],
)
async def test_graphql_data_fields_without_valid_token_are_unauthenticated(
    client: httpx.AsyncClient, authorization: str | None, message: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    body = await gql(client, "{ tags { tag } }", headers=headers)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == message
    assert body["data"] is None


async def test_graphql_mutation_without_token_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    before = await snapshot(database)
    body = await gql(
        client,
        "mutation($id: String!) { deleteConversation(conversationId: $id) { deletedCount } }",
        {"id": doc["conversationId"]},
    )
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert await snapshot(database) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/nope"),
        ("GET", "/api/convos/a/b"),
        # Express has no 405: a method a path does not serve is an unknown route.
        ("DELETE", "/api/convos/2af8b946-2d45-422c-ab91-a7f20254af4c"),
        ("PUT", "/api/convos"),
        ("POST", "/api/tags/work"),
        ("DELETE", "/api/tags/convo/some-id"),
        ("GET", "/api/tags/a/b/c"),
    ],
)
async def test_unknown_routes_are_404_endpoint_not_found(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, headers=auth(ALICE))
    assert response.status_code == 404
    assert response.json() == {"message": "Endpoint not found"}


async def test_search_enable_is_json_true(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/search/enable", headers=auth(ALICE))
    assert response.status_code == 200
    assert response.content == b"true"
    assert response.json() is True


async def test_health_needs_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.text == "OK"


BIG = 3 * 1024 * 1024 + 1


@pytest.mark.parametrize(
    ("method", "path", "build"),
    [
        (
            "POST",
            "/api/convos/update",
            lambda cid: {"arg": {"conversationId": cid, "title": "x" * BIG}},
        ),
        ("POST", "/api/tags", lambda cid: {"tag": "t", "description": "x" * BIG}),
        ("PUT", "/api/tags/convo/{cid}", lambda cid: {"tags": ["a"], "pad": "x" * BIG}),
        ("DELETE", "/api/convos", lambda cid: {"arg": {"conversationId": cid}, "pad": "x" * BIG}),
    ],
)
async def test_body_over_3_mb_is_413_and_changes_nothing(
    client: httpx.AsyncClient,
    database: Database,
    method: str,
    path: str,
    build: object,
) -> None:
    doc = await insert_conversation(database, ALICE)
    cid = doc["conversationId"]
    before = await snapshot(database)
    assert callable(build)
    content = orjson.dumps(build(cid))
    assert len(content) > 3 * 1024 * 1024
    response = await client.request(
        method,
        path.format(cid=cid),
        content=content,
        headers={**auth(ALICE), "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "message" in response.json() or "error" in response.json()
    assert await snapshot(database) == before


async def test_streamed_body_over_3_mb_without_length_is_413(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    before = await snapshot(database)

    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"arg":{"conversationId":"' + doc["conversationId"].encode() + b'","title":"'
        for _ in range(4):
            yield b"x" * (1024 * 1024)
        yield b'"}}'

    response = await client.post(
        "/api/convos/update",
        content=chunks(),
        headers={**auth(ALICE), "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert await snapshot(database) == before


async def test_body_just_under_3_mb_is_accepted(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    title = "y" * (3 * 1024 * 1024 - 200)
    response = await client.post(
        "/api/convos/update",
        json={"arg": {"conversationId": doc["conversationId"], "title": title}},
        headers=auth(ALICE),
    )
    assert response.status_code == 201
    assert response.json()["title"] == "y" * 1024


async def test_token_without_exp_is_401_as_librechat_always_issues_exp(
    client: httpx.AsyncClient,
) -> None:
    # More cases, GraphQL and WebSocket included: tests/app/test_token_expiry.py.
    no_exp = jwt.encode({"id": ALICE, "iat": int(time.time())}, JWT_SECRET, algorithm="HS256")
    response = await client.get("/api/convos", headers={"Authorization": f"Bearer {no_exp}"})
    assert response.status_code == 401
    assert response.json() == {"message": "jwt expiration required"}


async def test_token_of_another_algorithm_is_401(client: httpx.AsyncClient) -> None:
    now = int(time.time())
    claims = {"id": ALICE, "iat": now, "exp": now + 60}
    with warnings.catch_warnings():  # PyJWT warns that this secret is short for HS512
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        hs512 = jwt.encode(claims, JWT_SECRET, algorithm="HS512")
    response = await client.get("/api/convos", headers={"Authorization": f"Bearer {hs512}"})
    assert response.status_code == 401
