"""Every GraphQL limit refuses what exceeds it, with a clear error, and no more."""

from __future__ import annotations

import httpx
import pytest

from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import ALICE, auth, insert_conversation
from tests.utils.graphql import client_for, codes, gql


# conversations > edges > node > messages > children ... ; a root field is depth 0.
def _nested_children(levels: int) -> str:
    inner = "messageId"
    for _ in range(levels):
        inner = f"messageId children {{ {inner} }}"
    # One conversation: its messages count as GRAPHQL_MAX_MESSAGES_PER_CONVERSATION.
    return f"{{ conversations(first: 1) {{ edges {{ node {{ messages {{ {inner} }} }} }} }} }}"


async def test_depth_at_the_limit_runs(client: httpx.AsyncClient) -> None:
    # conversations(0) edges(1) node(2) messages(3) + 6 children(9) + leaf(10)
    response = await gql(client, _nested_children(6), user=ALICE)
    assert response.status_code == 200
    assert "errors" not in response.json()


async def test_depth_over_the_limit_is_refused_with_depth_and_limit(
    client: httpx.AsyncClient,
) -> None:
    response = await gql(client, _nested_children(7), user=ALICE)
    body = response.json()
    assert codes(body) == ["MAX_DEPTH_EXCEEDED"]
    assert "depth 11, above the limit of 10" in body["errors"][0]["message"]
    assert "data" not in body


async def test_depth_counts_fields_inside_fragments(client: httpx.AsyncClient) -> None:
    query = (
        "query { conversations(first: 1) { ...C } }"
        " fragment C on ConversationConnection { edges { node { messages { ...M } } } }"
        " fragment M on Message { children { children { children { children { children {"
        " children { children { messageId } } } } } } } }"
    )
    response = await gql(client, query, user=ALICE)
    assert codes(response.json()) == ["MAX_DEPTH_EXCEEDED"]


def _aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


async def test_aliases_at_the_limit_run(client: httpx.AsyncClient) -> None:
    response = await gql(client, _aliases(30))
    assert response.status_code == 200
    assert response.json()["data"]["a29"] == "Query"


async def test_aliases_over_the_limit_are_refused(client: httpx.AsyncClient) -> None:
    body = (await gql(client, _aliases(31))).json()
    assert codes(body) == ["MAX_ALIASES_EXCEEDED"]
    assert body["errors"][0]["extensions"]["aliases"] == 31
    assert body["errors"][0]["extensions"]["maxAliases"] == 30


async def test_an_aliased_fragment_spread_many_times_counts_at_every_spread(
    client: httpx.AsyncClient,
) -> None:
    # 5 aliases in a fragment, spread 7 times: 35 aliases executed.
    query = (
        "query { " + " ".join("...A" for _ in range(7)) + " }"
        " fragment A on Query { " + " ".join(f"x{i}: __typename" for i in range(5)) + " }"
    )
    body = (await gql(client, query)).json()
    assert codes(body) == ["MAX_ALIASES_EXCEEDED"]
    assert body["errors"][0]["extensions"]["aliases"] == 35


async def test_fragment_amplification_chain_is_refused_without_exponential_work(
    client: httpx.AsyncClient,
) -> None:
    # Each fragment spreads the next twice: 2^150 aliases. Strawberry's own
    # limiters walk every spread (2^n steps) and would not return; ours
    # measure each fragment once.
    n = 150
    parts = ["query { ...F0 }"]
    parts += [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(n)]
    parts.append(f"fragment F{n} on Query {{ a: __typename }}")
    body = (await gql(client, "\n".join(parts))).json()
    assert codes(body) == ["MAX_ALIASES_EXCEEDED"]
    assert f"uses {2**n} aliases" in body["errors"][0]["message"]
    # JSON numbers stay exact up to 2^53 - 1; larger counts are reported as that.
    assert body["errors"][0]["extensions"]["aliases"] == 2**53 - 1


async def test_too_many_tokens_are_refused_before_parsing_finishes(
    client: httpx.AsyncClient,
) -> None:
    query = "{ " + "__typename " * 2100 + "}"
    response = await gql(client, query, accept="application/graphql-response+json")
    assert response.status_code == 400
    assert "more than 2000 tokens" in response.json()["errors"][0]["message"]


_PAGE = (
    "query {{ conversations(first: {first}) {{ edges {{ node {{"
    " conversationId title messages {{ messageId text }} }} }} }} }}"
)


async def test_cost_multiplies_lists_and_states_cost_and_limit(
    mongo_uri: str, database: Database
) -> None:
    settings = make_settings(mongo_uri, max_query_cost=1000, max_messages_per_conversation=10)
    async with client_for(settings, database) as client:
        # conversations 1 + edges (1 + first x node), node = 1 + id 1 + title 1
        # + messages (1 + 10 at most x 2 fields) = 24: 2 + 30 x 24 = 722.
        ok = await gql(client, _PAGE.format(first=30), user=ALICE)
        assert "errors" not in ok.json()
        body = (await gql(client, _PAGE.format(first=50), user=ALICE)).json()
    assert codes(body) == ["MAX_COST_EXCEEDED"]
    error = body["errors"][0]
    assert error["extensions"] == {"code": "MAX_COST_EXCEEDED", "cost": 1202, "maxCost": 1000}
    assert "estimated cost of 1202, above the limit of 1000" in error["message"]


async def test_cost_of_a_variable_page_size_is_the_largest_page(
    mongo_uri: str, database: Database
) -> None:
    settings = make_settings(mongo_uri, max_query_cost=1000, max_messages_per_conversation=10)
    async with client_for(settings, database) as client:
        # Validation cannot see $n's value: it counts the largest page (100)...
        variable = _PAGE.format(first="$n").replace("query", "query($n: Int)")
        body = (await gql(client, variable, {"n": 1}, user=ALICE)).json()
        assert codes(body) == ["MAX_COST_EXCEEDED"]
        # ...unless the variable declares a default.
        with_default = variable.replace("$n: Int", "$n: Int = 10")
        ok = (await gql(client, with_default, {"n": 10}, user=ALICE)).json()
    assert "errors" not in ok


async def test_cost_caps_huge_page_sizes_at_the_largest_page(
    mongo_uri: str, database: Database
) -> None:
    settings = make_settings(mongo_uri, max_query_cost=2000, max_messages_per_conversation=10)
    async with client_for(settings, database) as client:
        body = (await gql(client, _PAGE.format(first=10**9), user=ALICE)).json()
    assert body["errors"][0]["extensions"]["cost"] == 2 + 100 * 24  # as first: 100


async def test_batching_is_off_by_default(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}]
    )
    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "Batching is not enabled"}]}


async def test_batching_when_enabled_is_capped(mongo_uri: str, database: Database) -> None:
    settings = make_settings(mongo_uri, max_batch=2)
    async with client_for(settings, database) as client:
        two = await client.post("/graphql", json=[{"query": "{ a: __typename }"}] * 2)
        three = await client.post("/graphql", json=[{"query": "{ __typename }"}] * 3)
    assert two.status_code == 200
    assert two.json() == [{"data": {"a": "Query"}}, {"data": {"a": "Query"}}]
    assert three.status_code == 400
    assert three.json()["errors"][0]["message"] == "Too many operations"


async def test_body_over_the_cap_is_refused_with_413(mongo_uri: str, database: Database) -> None:
    settings = make_settings(mongo_uri, max_body_bytes=1000)
    async with client_for(settings, database) as client:
        padded = "{ __typename }" + " " * 1000
        response = await client.post("/graphql", json={"query": padded})
        small = await client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 413
    assert response.json() == {"errors": [{"message": "Request body too large"}]}
    assert small.status_code == 200


async def test_body_cap_also_applies_without_content_length(
    mongo_uri: str, database: Database
) -> None:
    settings = make_settings(mongo_uri, max_body_bytes=1000)

    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"query": "{ __typename }", "x": "'
        for _ in range(20):
            yield b"y" * 100
        yield b'"}'

    async with client_for(settings, database) as client:
        response = await client.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413


# A deadline of 1 ns can cancel PyMongo while it opens a pooled connection; the
# half-open socket is then left to the garbage collector (PyMongo's behaviour
# on cancellation), which reports it as an unclosed socket at some later test.
@pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
async def test_execution_timeout_answers_503_timeout(mongo_uri: str, database: Database) -> None:
    await insert_conversation(database, ALICE)
    # A deadline shorter than any database round trip.
    settings = make_settings(mongo_uri, execution_timeout_s=1e-9)
    async with client_for(settings, database) as client:
        response = await client.post(
            "/graphql",
            json={"query": "{ conversations { edges { node { title } } } }"},
            headers=auth(ALICE),
        )
    assert response.status_code == 503
    body = response.json()
    assert codes(body) == ["TIMEOUT"]
    assert "took longer than" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("query", "limit"),
    [
        ("{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }", 4),
        ('{ __type(name: "Query") { fields { type { fields { name } } } } }', None),
    ],
)
async def test_introspection_list_nesting_is_capped(
    client: httpx.AsyncClient, query: str, limit: int | None
) -> None:
    body = (await gql(client, query)).json()
    if limit is None:
        assert "errors" not in body
    else:
        # graphql-core's own MaxIntrospectionDepthRule agrees.
        assert "MAX_DEPTH_EXCEEDED" in codes(body)
        messages = [e["message"] for e in body["errors"]]
        assert any(f"nests {limit} lists inside introspection" in m for m in messages)


async def test_graphiql_introspection_query_passes_the_limits(
    client: httpx.AsyncClient,
) -> None:
    from graphql import get_introspection_query

    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    body = (await gql(client, query)).json()
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_parser_and_validation_caches_are_bounded_and_hit_with_the_limits_rule(
    client: httpx.AsyncClient,
) -> None:
    from strawberry.extensions.parser_cache import _get_parse_cache
    from strawberry.extensions.validation_cache import _get_validate_cache

    parse_cache = _get_parse_cache(512)
    validate_cache = _get_validate_cache(512)
    assert parse_cache.cache_info().maxsize == 512
    assert validate_cache.cache_info().maxsize == 512
    query = "{ conversations(first: 3) { edges { cursor } } }"
    await gql(client, query)
    hits = validate_cache.cache_info().hits
    await gql(client, query)
    # The limits rule class is created once, so the cache key repeats.
    assert validate_cache.cache_info().hits == hits + 1
