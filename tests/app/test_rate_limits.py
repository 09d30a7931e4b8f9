"""Fork/duplicate rate limits through the real app: REST and GraphQL share them,
on in-process memory and on a real Redis (127.0.0.1:6379) shared by replicas."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings, SettingsError
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import ALICE, BOB, auth, insert_conversation, insert_thread, snapshot

REDIS_URI = "redis://127.0.0.1:6379/0"
FORK_LIMITED = {"message": "Too many conversation fork requests. Try again later"}
CAROL = "6b0a7813319bf155c7d4835c"

GQL_FORK = """mutation($input: ForkConversationInput!) {
  forkConversation(input: $input) { conversation { conversationId } } }"""
GQL_DUPLICATE = """mutation($id: String!) {
  duplicateConversation(conversationId: $id) { conversation { conversationId } } }"""


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards.

    Redis must be running (`make redis`): these tests fail rather than skip.
    """
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    client = redis.asyncio.Redis.from_url(REDIS_URI)
    try:
        assert await client.ping()
        yield prefix
        keys = [key async for key in client.scan_iter(match=f"LIMITS:{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def storage_uri(request: pytest.FixtureRequest, redis_prefix: str) -> str:
    return "memory://" if request.param == "memory" else REDIS_URI


def limited_settings(mongo_uri: str, storage_uri: str, prefix: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "fork_user_max": 1000,
        "fork_ip_max": 1000,
        "rate_limit_storage_uri": storage_uri,
        "rate_limit_key_prefix": prefix,
    }
    return make_settings(mongo_uri, **{**values, **overrides})


@contextlib.asynccontextmanager
async def running(settings: Settings, database: Database) -> AsyncIterator[Starlette]:
    app = create_app(settings, database=database)
    async with app.router.lifespan_context(app):
        yield app


def client_for(app: Starlette, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def source_of(database: Database, user: str) -> tuple[str, str]:
    conversation = await insert_conversation(database, user, title="Source")
    thread = await insert_thread(database, user, conversation["conversationId"], ["q", "a"])
    return conversation["conversationId"], thread[-1]["messageId"]


async def fork(
    client: httpx.AsyncClient,
    source: tuple[str, str],
    user: str = ALICE,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        "/api/convos/fork",
        json={"conversationId": source[0], "messageId": source[1]},
        headers={**auth(user), **(headers or {})},
    )


async def duplicate(
    client: httpx.AsyncClient, source: tuple[str, str], user: str = ALICE
) -> httpx.Response:
    return await client.post(
        "/api/convos/duplicate", json={"conversationId": source[0]}, headers=auth(user)
    )


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any],
    user: str = ALICE,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={**auth(user), **(headers or {})},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_limited(response: httpx.Response, window_s: int = 60) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == FORK_LIMITED
    retry = int(response.headers["Retry-After"])
    assert 1 <= retry <= window_s


def assert_gql_limited(body: dict[str, Any], window_s: int = 60) -> None:
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["message"] == FORK_LIMITED["message"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert 1 <= error["extensions"]["retryAfter"] <= window_s


async def test_user_budget_refuses_with_429_and_retry_after(
    mongo_uri: str, database: Database, storage_uri: str, redis_prefix: str
) -> None:
    settings = limited_settings(mongo_uri, storage_uri, redis_prefix, fork_user_max=2)
    source = await source_of(database, ALICE)
    async with running(settings, database) as app, client_for(app) as client:
        assert (await fork(client, source)).status_code == 200
        assert (await fork(client, source)).status_code == 200
        before = await snapshot(database)
        assert_limited(await fork(client, source))
        assert await snapshot(database) == before
        # Another user is not affected by ALICE's budget.
        other = await source_of(database, BOB)
        assert (await fork(client, other, BOB)).status_code == 200


async def test_fork_and_duplicate_share_one_budget(
    mongo_uri: str, database: Database, storage_uri: str, redis_prefix: str
) -> None:
    settings = limited_settings(mongo_uri, storage_uri, redis_prefix, fork_user_max=2)
    source = await source_of(database, ALICE)
    async with running(settings, database) as app, client_for(app) as client:
        assert (await fork(client, source)).status_code == 200
        assert (await duplicate(client, source)).status_code == 201
        assert_limited(await duplicate(client, source))
        assert_limited(await fork(client, source))


async def test_graphql_mutations_spend_the_rest_budget(
    mongo_uri: str, database: Database, storage_uri: str, redis_prefix: str
) -> None:
    settings = limited_settings(mongo_uri, storage_uri, redis_prefix, fork_user_max=3)
    source = await source_of(database, ALICE)
    fork_input = {"input": {"conversationId": source[0], "messageId": source[1]}}
    async with running(settings, database) as app, client_for(app) as client:
        assert (await fork(client, source)).status_code == 200
        ok = await gql(client, GQL_DUPLICATE, {"id": source[0]})
        assert ok["data"]["duplicateConversation"]["conversation"]["conversationId"]
        ok = await gql(client, GQL_FORK, fork_input)
        assert ok["data"]["forkConversation"]["conversation"]["conversationId"]
        before = await snapshot(database)
        assert_gql_limited(await gql(client, GQL_FORK, fork_input))
        assert_gql_limited(await gql(client, GQL_DUPLICATE, {"id": source[0]}))
        assert_limited(await fork(client, source))
        assert await snapshot(database) == before


async def test_graphql_aliases_cannot_batch_past_the_budget(
    mongo_uri: str, database: Database, redis_prefix: str
) -> None:
    settings = limited_settings(mongo_uri, "memory://", redis_prefix, fork_user_max=2)
    source = await source_of(database, ALICE)
    query = (
        "mutation($id: String!) { "
        + " ".join(
            f"d{i}: duplicateConversation(conversationId: $id) {{ conversation {{ title }} }}"
            for i in range(4)
        )
        + " }"
    )
    async with running(settings, database) as app, client_for(app) as client:
        body = await gql(client, query, {"id": source[0]})
        # The third is refused; a non-null mutation field's error stops the rest.
        assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
            (["d2"], "RATE_LIMITED")
        ]
        assert await database.conversations.count_documents({"user": ALICE}) == 1 + 2


async def test_ip_budget_spans_users_and_refusals_consume_nothing(
    mongo_uri: str, database: Database, storage_uri: str, redis_prefix: str
) -> None:
    settings = limited_settings(
        mongo_uri, storage_uri, redis_prefix, fork_user_max=2, fork_ip_max=3
    )
    alice, bob = await source_of(database, ALICE), await source_of(database, BOB)
    async with running(settings, database) as app, client_for(app, "192.0.2.10") as client:
        assert (await fork(client, alice)).status_code == 200
        assert (await fork(client, alice)).status_code == 200
        assert_limited(await fork(client, alice))  # ALICE's budget, not the IP's
        assert (await fork(client, bob, BOB)).status_code == 200  # the IP's 3rd
        assert_limited(await fork(client, bob, BOB))  # the IP's budget
        async with client_for(app, "192.0.2.11") as elsewhere:
            assert (await fork(elsewhere, bob, BOB)).status_code == 200


async def test_requests_that_fail_validation_still_count(
    mongo_uri: str, database: Database, redis_prefix: str
) -> None:
    """As in LibreChat, the limit runs before the handler: probing ids is bounded too."""
    settings = limited_settings(mongo_uri, "memory://", redis_prefix, fork_user_max=2)
    source = await source_of(database, ALICE)
    async with running(settings, database) as app, client_for(app) as client:
        assert (await fork(client, ("nope", "x"))).status_code == 404
        assert (await duplicate(client, ("", ""))).status_code == 400
        assert_limited(await fork(client, source))


async def test_forwarded_for_is_ignored_without_trusted_proxies(
    mongo_uri: str, database: Database, storage_uri: str, redis_prefix: str
) -> None:
    settings = limited_settings(mongo_uri, storage_uri, redis_prefix, fork_ip_max=2)
    sources = {user: await source_of(database, user) for user in (ALICE, BOB, CAROL)}
    async with running(settings, database) as app, client_for(app) as client:
        for i, user in enumerate((ALICE, BOB)):
            forwarded = {"X-Forwarded-For": f"198.51.100.{i}"}
            assert (await fork(client, sources[user], user, forwarded)).status_code == 200
        forwarded = {"X-Forwarded-For": "198.51.100.9"}
        assert_limited(await fork(client, sources[CAROL], CAROL, forwarded))


async def test_forwarded_for_behind_a_trusted_proxy_keys_the_real_client(
    mongo_uri: str, database: Database, storage_uri: str, redis_prefix: str
) -> None:
    settings = limited_settings(
        mongo_uri, storage_uri, redis_prefix, fork_ip_max=1, trusted_proxies=("10.0.0.1",)
    )
    sources = {user: await source_of(database, user) for user in (ALICE, BOB, CAROL)}
    async with running(settings, database) as app, client_for(app, "10.0.0.1") as proxy:
        one = {"X-Forwarded-For": "198.51.100.1"}
        two = {"X-Forwarded-For": "198.51.100.2"}
        assert (await fork(proxy, sources[ALICE], ALICE, one)).status_code == 200
        assert (await fork(proxy, sources[BOB], BOB, two)).status_code == 200
        # Prepending a made-up address does not escape: the proxy's entry counts.
        spoofed = {"X-Forwarded-For": "6.6.6.6, 198.51.100.1"}
        assert_limited(await fork(proxy, sources[CAROL], CAROL, spoofed))
        # GraphQL computes the same address and spends the same per-IP budget.
        body = await gql(proxy, GQL_DUPLICATE, {"id": sources[CAROL][0]}, CAROL, two)
        assert_gql_limited(body)
        fresh = {"X-Forwarded-For": "198.51.100.3"}
        body = await gql(proxy, GQL_DUPLICATE, {"id": sources[CAROL][0]}, CAROL, fresh)
        assert body["data"]["duplicateConversation"]["conversation"]["conversationId"]


async def test_two_app_instances_share_one_redis_budget(
    mongo_uri: str, database: Database, redis_prefix: str
) -> None:
    settings = limited_settings(mongo_uri, REDIS_URI, redis_prefix, fork_user_max=2)
    source = await source_of(database, ALICE)
    async with (
        running(settings, database) as first,
        running(settings, database) as second,
        client_for(first) as a,
        client_for(second) as b,
    ):
        assert (await fork(a, source)).status_code == 200
        assert (await duplicate(b, source)).status_code == 201
        assert_limited(await fork(a, source))
        assert_limited(await fork(b, source))
        body = await gql(
            b, GQL_FORK, {"input": {"conversationId": source[0], "messageId": source[1]}}
        )
        assert_gql_limited(body)


async def test_memory_budgets_are_per_process(
    mongo_uri: str, database: Database, redis_prefix: str
) -> None:
    """The contrast that makes the Redis test meaningful: memory is not shared."""
    settings = limited_settings(mongo_uri, "memory://", redis_prefix, fork_user_max=1)
    source = await source_of(database, ALICE)
    async with (
        running(settings, database) as first,
        running(settings, database) as second,
        client_for(first) as a,
        client_for(second) as b,
    ):
        assert (await fork(a, source)).status_code == 200
        assert (await fork(b, source)).status_code == 200
        assert_limited(await fork(a, source))


async def test_unreachable_redis_fails_closed_with_503(
    mongo_uri: str, database: Database, redis_prefix: str
) -> None:
    settings = limited_settings(mongo_uri, "redis://127.0.0.1:1/0", redis_prefix)
    source: tuple[str, str] = await source_of(database, ALICE)
    before = await snapshot(database)
    async with running(settings, database) as app, client_for(app) as client:
        response = await fork(client, source)
        assert (response.status_code, response.json()) == (503, {"error": "Service unavailable"})
        response = await client.post(
            "/graphql",
            json={"query": GQL_DUPLICATE, "variables": {"id": source[0]}},
            headers=auth(ALICE),
        )
        assert response.status_code == 503
        [error] = response.json()["errors"]
        assert (error["message"], error["extensions"]) == (
            "Service unavailable",
            {"code": "SERVICE_UNAVAILABLE"},
        )
    assert await snapshot(database) == before


@pytest.mark.parametrize("uri", ["mongodb://127.0.0.1:27017", "memcached://127.0.0.1", "nonsense"])
def test_other_rate_limit_storages_refuse_to_start(mongo_uri: str, uri: str) -> None:
    with pytest.raises(SettingsError, match="RATE_LIMIT_STORAGE_URI"):
        create_app(make_settings(mongo_uri, rate_limit_storage_uri=uri))
