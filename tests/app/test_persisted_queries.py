"""Persisted queries: Apollo's APQ flow on POST and GET, bounded stores, allow-lists."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.graphql.persisted_queries import (
    REDIS_PREFIX,
    MemoryStore,
    PersistedQueries,
    RedisStore,
    load_allow_list,
    sha256_hex,
)
from app.settings import SettingsError
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import ALICE, auth, insert_conversation
from tests.utils.graphql import client_for, codes, gql

REDIS_URI = "redis://127.0.0.1:6379/0"


def _unique(query: str = "{ tags { tag } }") -> str:
    # A comment makes the document (and its hash) unique to this test run.
    return f"# {uuid.uuid4()}\n{query}"


def _apq(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def test_unknown_hash_is_not_found_then_registered_then_hit(
    client: httpx.AsyncClient, database: Database
) -> None:
    await insert_conversation(database, ALICE, title="Persisted")
    query = _unique("{ conversations { edges { node { title } } } }")
    digest = sha256_hex(query)

    miss = await gql(client, None, extensions=_apq(digest), user=ALICE)
    assert miss.status_code == 404
    assert codes(miss.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert miss.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert miss.headers["cache-control"] == "private, no-cache, must-revalidate"

    register = await gql(client, query, extensions=_apq(digest), user=ALICE)
    assert register.status_code == 200
    hit = await gql(client, None, extensions=_apq(digest), user=ALICE)
    assert hit.status_code == 200
    assert hit.json() == register.json()
    assert hit.json()["data"]["conversations"]["edges"][0]["node"]["title"] == "Persisted"


async def test_persisted_queries_run_over_get_for_proxies(
    mongo_uri: str, database: Database
) -> None:
    settings = make_settings(mongo_uri, get_cache_max_age_s=60)
    query = _unique("query Tags { tags { tag } }")
    digest = sha256_hex(query)
    params = {"extensions": json.dumps(_apq(digest)), "operationName": "Tags"}
    async with client_for(settings, database) as client:
        miss = await client.get("/graphql", params=params, headers=auth(ALICE))
        await gql(client, query, extensions=_apq(digest), user=ALICE)
        hit = await client.get("/graphql", params=params, headers=auth(ALICE))
    assert miss.status_code == 404
    assert "max-age" not in miss.headers["cache-control"]
    assert hit.status_code == 200
    assert hit.json() == {"data": {"tags": []}}
    # A shared cache may keep it, separately for each token.
    assert hit.headers["cache-control"] == "public, max-age=60"
    assert hit.headers["vary"] == "Authorization, Accept"


async def test_get_responses_are_not_cacheable_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 200
    assert "cache-control" not in response.headers
    assert response.headers["vary"] == "Authorization, Accept"


async def test_a_hash_that_does_not_match_the_query_is_refused(
    client: httpx.AsyncClient,
) -> None:
    response = await gql(
        client, _unique(), extensions=_apq(sha256_hex("{ __typename }")), user=ALICE
    )
    assert response.status_code == 400
    assert codes(response.json()) == ["PERSISTED_QUERY_HASH_MISMATCH"]


async def test_invalid_documents_are_not_registered(client: httpx.AsyncClient) -> None:
    query = _unique("{ nope }")
    digest = sha256_hex(query)
    first = await gql(client, query, extensions=_apq(digest))
    assert "Cannot query field" in first.json()["errors"][0]["message"]
    again = await gql(client, None, extensions=_apq(digest))
    assert codes(again.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.mark.parametrize(
    "persisted",
    [{"version": 2, "sha256Hash": "0" * 64}, {"version": 1, "sha256Hash": "abc"}, "x"],
)
async def test_malformed_persisted_query_extensions_are_400(
    client: httpx.AsyncClient, persisted: object
) -> None:
    response = await gql(client, None, extensions={"persistedQuery": persisted})
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]


async def test_apq_can_be_turned_off(mongo_uri: str, database: Database) -> None:
    async with client_for(make_settings(mongo_uri, apq=False), database) as client:
        response = await gql(client, None, extensions=_apq("a" * 64))
    assert response.status_code == 400
    assert codes(response.json()) == ["PERSISTED_QUERY_NOT_SUPPORTED"]


async def test_memory_store_is_a_bounded_lru() -> None:
    store = MemoryStore(2)
    await store.put("a", "A")
    await store.put("b", "B")
    assert await store.get("a") == "A"  # now most recently used
    await store.put("c", "C")
    assert len(store) == 2
    assert await store.get("b") is None
    assert (await store.get("a"), await store.get("c")) == ("A", "C")


async def test_documents_over_the_size_cap_run_but_are_not_stored() -> None:
    store = MemoryStore(10)
    persisted = PersistedQueries(store, max_query_bytes=20)
    query = "{ tags { tag description } }"
    resolved = await persisted.resolve(query, _apq(sha256_hex(query)))
    assert resolved.query == query and resolved.register_as is None


async def test_replicas_share_persisted_queries_through_redis(
    mongo_uri: str, database: Database
) -> None:
    settings = make_settings(mongo_uri, redis_uri=REDIS_URI)
    query = _unique("{ tags { tag } }")
    digest = sha256_hex(query)
    redis = Redis.from_url(REDIS_URI)
    try:
        async with client_for(settings, database) as one, client_for(settings, database) as two:
            await gql(one, query, extensions=_apq(digest), user=ALICE)
            hit = await gql(two, None, extensions=_apq(digest), user=ALICE)
        assert hit.status_code == 200
        assert hit.json() == {"data": {"tags": []}}
        assert await redis.ttl(REDIS_PREFIX + digest) > 0
    finally:
        await redis.delete(REDIS_PREFIX + digest)
        await redis.aclose()


async def test_redis_outage_degrades_to_the_memory_store() -> None:
    # Nothing listens on port 1: every Redis call fails at once.
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    store = RedisStore(redis, MemoryStore(10), ttl_s=60)
    try:
        assert await store.get("f" * 64) is None
        await store.put("f" * 64, "{ __typename }")
        assert await store.get("f" * 64) == "{ __typename }"
    finally:
        await redis.aclose()


# -- allow-list mode -------------------------------------------------------------

ALLOWED = "query Tags { tags { tag } }"


def _manifest(tmp_path: Path) -> Path:
    path = tmp_path / "operations.json"
    path.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [
                    {"id": sha256_hex(ALLOWED), "name": "Tags", "type": "query", "body": ALLOWED}
                ],
            }
        )
    )
    return path


async def test_allow_list_runs_only_registered_operations(
    mongo_uri: str, database: Database, tmp_path: Path
) -> None:
    settings = make_settings(mongo_uri, allow_list_path=_manifest(tmp_path))
    other = "{ conversations { edges { cursor } } }"
    async with client_for(settings, database) as client:
        by_hash = await gql(client, None, extensions=_apq(sha256_hex(ALLOWED)), user=ALICE)
        by_text = await gql(client, ALLOWED, user=ALICE)
        refused = await gql(client, other, user=ALICE)
        register = await gql(client, other, extensions=_apq(sha256_hex(other)), user=ALICE)
        unknown = await gql(client, None, extensions=_apq(sha256_hex(other)), user=ALICE)
    assert by_hash.json() == {"data": {"tags": []}}
    assert by_text.json() == {"data": {"tags": []}}
    for response in (refused, register, unknown):
        assert response.status_code == 403
        assert codes(response.json()) == ["OPERATION_NOT_IN_ALLOW_LIST"]


def test_allow_list_accepts_a_plain_hash_map(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps({sha256_hex(ALLOWED): ALLOWED}))
    assert load_allow_list(path) == {sha256_hex(ALLOWED): ALLOWED}


def test_allow_list_with_a_wrong_id_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"operations": [{"id": "0" * 64, "body": ALLOWED}]}))
    with pytest.raises(SettingsError, match="not the sha256 of its body"):
        load_allow_list(path)
