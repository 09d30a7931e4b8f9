"""/metrics: Prometheus text, bounded labels, every family the operator reads.

The registry is process-wide, so each test reads a counter before and after
what it does and asserts the difference.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from app import metrics
from app.main import create_app
from storage.database import Database
from storage.embedded import free_port
from tests.conftest import make_settings
from tests.utils.factories import ALICE, auth, insert_conversation, token
from tests.utils.http import gql
from tests.utils.metrics import sample
from tests.utils.servers import running
from tests.utils.ws import graphql_ws


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.text


@pytest.fixture
async def limited_app(mongo_uri: str, database: Database) -> AsyncIterator[Starlette]:
    application = create_app(make_settings(mongo_uri, fork_user_max=1), database=database)
    async with application.router.lifespan_context(application):
        yield application


async def test_metrics_need_no_token_and_are_prometheus_text(client: httpx.AsyncClient) -> None:
    text = await scrape(client)
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {
        "convos_http_requests",
        "convos_http_request_duration_seconds",
        "convos_graphql_operations",
        "convos_mongodb_command_duration_seconds",
        "convos_rate_limit_rejections",
        "convos_imports_in_progress",
        "convos_imported_conversations",
        "convos_websocket_connections",
        "convos_graphql_subscriptions_active",
        "process_cpu_seconds",
    } <= names


async def test_rest_requests_are_labelled_by_route_template_not_raw_path(
    client: httpx.AsyncClient, database: Database
) -> None:
    route = "/api/convos/{conversation_id}"
    count = "convos_http_requests_total"
    before = await scrape(client)
    doc = await insert_conversation(database, ALICE, title="mine")
    assert (
        await client.get(f"/api/convos/{doc['conversationId']}", headers=auth(ALICE))
    ).is_success
    missing = await client.get("/api/convos/no-such-conversation", headers=auth(ALICE))
    assert missing.status_code == 404
    assert (await client.get("/no/route/here")).status_code == 404
    after = await scrape(client)

    ok = {"route": route, "method": "GET", "status": "200"}
    not_found = {"route": route, "method": "GET", "status": "404"}
    assert sample(after, count, **ok) - sample(before, count, **ok) == 1
    assert sample(after, count, **not_found) - sample(before, count, **not_found) == 1
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert sample(after, count, **unmatched) - sample(before, count, **unmatched) == 1
    histogram = "convos_http_request_duration_seconds_count"
    assert (
        sample(after, histogram, route=route, method="GET")
        - sample(before, histogram, route=route, method="GET")
        == 2
    )
    # Neither raw path is a label value anywhere.
    assert doc["conversationId"] not in after and "no-such-conversation" not in after
    assert "/no/route/here" not in after
    errors = "convos_errors_total"
    assert (
        sample(after, errors, source="http", code="404")
        - sample(before, errors, source="http", code="404")
        == 2
    )


async def test_graphql_operations_are_labelled_by_name_and_type(client: httpx.AsyncClient) -> None:
    ops = "convos_graphql_operations_total"
    before = await scrape(client)
    await gql(client, "query RecentTags { tags { tag } }", user=ALICE)
    await gql(client, "{ tags { tag } }", user=ALICE)
    long_name = "Q" + "x" * 64  # a valid GraphQL name, longer than a label may be
    await gql(client, f"query {long_name} {{ tags {{ tag }} }}", user=ALICE)
    missing = await gql(client, 'query Missing { conversation(conversationId: "nope") { title } }')
    after = await scrape(client)

    for name in ("RecentTags", "anonymous", "other"):
        labels = {"operation": name, "type": "query"}
        assert sample(after, ops, **labels) - sample(before, ops, **labels) == 1, name
    assert long_name not in after
    latency = "convos_graphql_operation_duration_seconds_count"
    labels = {"operation": "RecentTags", "type": "query"}
    assert sample(after, latency, **labels) - sample(before, latency, **labels) == 1
    # Errors count by the code the client sees.
    (code,) = {e["extensions"]["code"] for e in missing["errors"]}
    errors = "convos_errors_total"
    assert (
        sample(after, errors, source="graphql", code=code)
        - sample(before, errors, source="graphql", code=code)
        == 1
    )


def test_operation_names_are_bounded_after_n_distinct_names() -> None:
    names = metrics.BoundedNames(2, metrics._OPERATION_NAME)
    assert [names(n) for n in ("A", "B", "C", "A", "1bad", "B")] == [
        "A",
        "B",
        "other",
        "A",
        "other",
        "B",
    ]


async def test_mongodb_commands_are_timed_by_command_name(
    client: httpx.AsyncClient, database: Database
) -> None:
    count = "convos_mongodb_command_duration_seconds_count"
    before = await scrape(client)
    await insert_conversation(database, ALICE, title="timed")
    assert (await client.get("/api/convos", headers=auth(ALICE))).is_success
    after = await scrape(client)
    assert sample(after, count, command="insert") > sample(before, count, command="insert")
    assert sample(after, count, command="find") > sample(before, count, command="find")


async def test_rate_limit_rejections_count_by_action(
    limited_app: Starlette, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, title="twice")
    transport = httpx.ASGITransport(app=limited_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        before = await scrape(client)
        body = {"conversationId": doc["conversationId"]}
        first = await client.post("/api/convos/duplicate", json=body, headers=auth(ALICE))
        second = await client.post("/api/convos/duplicate", json=body, headers=auth(ALICE))
        after = await scrape(client)
    assert (first.status_code, second.status_code) == (201, 429)
    rejections = "convos_rate_limit_rejections_total"
    assert sample(after, rejections, action="fork") - sample(before, rejections, action="fork") == 1
    assert sample(after, rejections, action="import") == sample(before, rejections, action="import")


async def test_imports_count_their_conversations_and_are_not_left_in_progress(
    client: httpx.AsyncClient,
) -> None:
    before = await scrape(client)
    response = await client.post(
        "/api/convos/import",
        files={"file": ("chatgpt.json", json.dumps(_chatgpt(3)).encode(), "application/json")},
        headers=auth(ALICE),
    )
    assert response.status_code == 201, response.text
    after = await scrape(client)
    imported = "convos_imported_conversations_total"
    assert sample(after, imported) - sample(before, imported) == 3
    assert sample(after, "convos_imports_in_progress") == 0


def _chatgpt(n: int) -> list[dict[str, object]]:
    """``n`` ChatGPT-export conversations of one user message and one answer."""
    conversations: list[dict[str, object]] = []
    for i in range(n):
        mapping = {
            "root": {"id": "root", "message": None, "parent": None, "children": ["u"]},
            "u": {
                "id": "u",
                "parent": "root",
                "children": ["a"],
                "message": {
                    "id": "u",
                    "author": {"role": "user"},
                    "create_time": 1700000000 + i,
                    "content": {"content_type": "text", "parts": [f"question {i}"]},
                },
            },
            "a": {
                "id": "a",
                "parent": "u",
                "children": [],
                "message": {
                    "id": "a",
                    "author": {"role": "assistant"},
                    "create_time": 1700000001 + i,
                    "content": {"content_type": "text", "parts": [f"answer {i}"]},
                },
            },
        }
        conversations.append(
            {"title": f"imported {i}", "create_time": 1700000000 + i, "mapping": mapping}
        )
    return conversations


async def test_websocket_connections_and_subscriptions_are_gauged(
    app: Starlette,
) -> None:
    subscription = "subscription { conversationEvents { kind } }"
    async with running(app) as base, httpx.AsyncClient(base_url=base) as http:
        before = (await http.get("/metrics")).text
        async with graphql_ws(base) as ws:
            ack = await ws.init({"Authorization": f"Bearer {token(ALICE)}"})
            assert ack == {"type": "connection_ack"}
            await ws.subscribe("1", subscription)
            during = ""
            for _ in range(200):
                during = (await http.get("/metrics")).text
                if sample(during, "convos_graphql_subscriptions_active") > sample(
                    before, "convos_graphql_subscriptions_active"
                ):
                    break
                await asyncio.sleep(0.01)
        after = ""
        for _ in range(200):
            after = (await http.get("/metrics")).text
            if sample(after, "convos_websocket_connections") == sample(
                before, "convos_websocket_connections"
            ) and sample(after, "convos_graphql_subscriptions_active") == sample(
                before, "convos_graphql_subscriptions_active"
            ):
                break
            await asyncio.sleep(0.01)
    for gauge in ("convos_websocket_connections", "convos_graphql_subscriptions_active"):
        assert sample(during, gauge) - sample(before, gauge) == 1, gauge
        assert sample(after, gauge) == sample(before, gauge), gauge
    subscriptions = {"operation": "anonymous", "type": "subscription"}
    ops = "convos_graphql_operations_total"
    assert sample(after, ops, **subscriptions) - sample(before, ops, **subscriptions) == 1


async def test_metrics_off_serves_no_endpoint(mongo_uri: str, database: Database) -> None:
    application = create_app(make_settings(mongo_uri, metrics_enabled=False), database=database)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/metrics")).status_code == 404
            assert (await client.get("/health")).status_code == 200


async def test_metrics_port_serves_metrics_only_there(mongo_uri: str, database: Database) -> None:
    port = free_port()
    settings = make_settings(mongo_uri, metrics_port=port)
    application = create_app(settings, database=database)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/metrics")).status_code == 404
        async with httpx.AsyncClient() as scraper:
            response = await scraper.get(f"http://127.0.0.1:{port}/metrics")
        assert response.status_code == 200
        assert "convos_http_requests_total" in response.text
    # Stopped with the app: the port is free again.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics")


async def test_the_change_feeds_lag_and_changes_are_gauged(
    mongo_uri: str, database: Database
) -> None:
    settings = make_settings(mongo_uri, change_feed="changestream")
    application = create_app(settings, database=database)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as client,
    ):
        # A feed started from "now" sees only writes made once it reads.
        await asyncio.wait_for(application.state.feed.feed.reading.wait(), 10)
        before = sample((await client.get("/metrics")).text, "convos_change_feed_changes_seen")
        await insert_conversation(database, ALICE, title="written by another writer")
        seen = before
        for _ in range(100):  # bounded wait for the feed, no timing assertion
            seen = sample((await client.get("/metrics")).text, "convos_change_feed_changes_seen")
            if seen > before:
                break
            await asyncio.sleep(0.05)
        lag = sample((await client.get("/metrics")).text, "convos_change_feed_lag_seconds")
    assert seen > before
    assert lag >= 0
