"""GET /api/convos/gen_title/:id and the generateTitle mutation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from app.main import create_app
from resolvers.adapters.services import Services
from resolvers.operations.errors import TITLE_NOT_FOUND
from resolvers.titles.operation import DEFAULT_TITLES, schedule_titles
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import ALICE, BOB, auth, insert_conversation, insert_thread

FAST = (0.02, 0.05, 0.1, 0.2, 0.4)  # the backoff's shape, shortened for tests
REDIS = "redis://127.0.0.1:6379/0"


def _services(app: Starlette) -> Services:
    services: Services = app.state.services
    return services


@pytest.fixture(autouse=True)
def fast_backoff(app: Starlette) -> None:
    _services(app).title_wait_delays = FAST


async def _untitled(database: Database, user: str = ALICE) -> str:
    doc = await insert_conversation(database, user, title="New Chat")
    await insert_thread(
        database,
        user,
        doc["conversationId"],
        ["How do I cook pasta al dente?", "Boil salted water, then cook the pasta for 9 minutes."],
    )
    return str(doc["conversationId"])


async def test_default_titled_conversation_gets_a_generated_title_saved_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    cid = await _untitled(database)
    response = await client.get(f"/api/convos/gen_title/{cid}", headers=auth(ALICE))
    assert response.status_code == 200
    title = response.json()["title"]
    assert "pasta" in title.lower() and title == title.strip() and '"' not in title
    stored = await database.conversations.find_one({"conversationId": cid})
    assert stored is not None and stored["title"] == title
    # The cache entry was read once; the conversation is titled now, so
    # nothing new is generated and the next call waits, then answers 404.
    again = await client.get(f"/api/convos/gen_title/{cid}", headers=auth(ALICE))
    assert again.status_code == 404
    assert again.json() == {"message": TITLE_NOT_FOUND}


async def test_titled_conversation_without_pending_title_is_404_with_librechat_body(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, title="Already named")
    response = await client.get(
        f"/api/convos/gen_title/{doc['conversationId']}", headers=auth(ALICE)
    )
    assert response.status_code == 404
    assert response.json() == {"message": TITLE_NOT_FOUND}
    stored = await database.conversations.find_one({"conversationId": doc["conversationId"]})
    assert stored is not None and stored["title"] == "Already named"


async def test_unknown_conversation_is_404_and_foreign_is_403_with_nothing_generated(
    client: httpx.AsyncClient, database: Database
) -> None:
    missing = await client.get("/api/convos/gen_title/nope", headers=auth(ALICE))
    assert missing.status_code == 404
    assert missing.json() == {"error": "Conversation not found"}
    cid = await _untitled(database, ALICE)
    foreign = await client.get(f"/api/convos/gen_title/{cid}", headers=auth(BOB))
    assert foreign.status_code == 403
    stored = await database.conversations.find_one({"conversationId": cid})
    assert stored is not None and stored["title"] == "New Chat"


async def test_gen_title_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/convos/gen_title/x")
    assert response.status_code == 401
    assert response.json() == {"message": "No auth token"}


async def test_a_rename_during_generation_is_not_overwritten(
    app: Starlette, client: httpx.AsyncClient, database: Database
) -> None:
    cid = await _untitled(database)
    services = _services(app)
    assert services.titles is not None
    await database.conversations.update_one({"conversationId": cid}, {"$set": {"title": "Mine"}})
    # Scheduled from a stale read (as an import does): the save must not win.
    started = await schedule_titles(services, ALICE, [{"conversationId": cid, "title": "New Chat"}])
    assert started == 1
    await services.titles.drain()
    stored = await database.conversations.find_one({"conversationId": cid})
    assert stored is not None and stored["title"] == "Mine"


async def test_generate_title_mutation_returns_the_title_or_not_found(
    client: httpx.AsyncClient, database: Database
) -> None:
    cid = await _untitled(database)
    mutation = "mutation($id: String!) { generateTitle(conversationId: $id) }"
    ok = await client.post(
        "/graphql", json={"query": mutation, "variables": {"id": cid}}, headers=auth(ALICE)
    )
    assert ok.status_code == 200
    assert "pasta" in ok.json()["data"]["generateTitle"].lower()
    missing = await client.post(
        "/graphql", json={"query": mutation, "variables": {"id": "nope"}}, headers=auth(ALICE)
    )
    error = missing.json()["errors"][0]
    assert error["extensions"]["code"] == "NOT_FOUND"


@pytest.fixture
async def replica_pair(
    mongo_uri: str, database: Database
) -> AsyncIterator[tuple[Starlette, Starlette]]:
    settings = make_settings(mongo_uri, redis_uri=REDIS)
    first = create_app(settings, database=database)
    second = create_app(settings, database=database)
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        _services(first).title_wait_delays = FAST
        _services(second).title_wait_delays = FAST
        yield first, second


async def test_a_title_generated_by_one_replica_is_served_by_another_through_redis(
    replica_pair: tuple[Starlette, Starlette], database: Database
) -> None:
    first, second = replica_pair
    cid = await _untitled(database)
    titles = _services(first).titles
    assert titles is not None
    await schedule_titles(_services(first), ALICE, [{"conversationId": cid, "title": "New Chat"}])
    await titles.drain()
    # The conversation is titled now, so the second replica generates
    # nothing itself: it can only answer from the shared cache.
    transport = httpx.ASGITransport(app=second)
    async with httpx.AsyncClient(transport=transport, base_url="http://second") as client:
        response = await client.get(f"/api/convos/gen_title/{cid}", headers=auth(ALICE))
        assert response.status_code == 200
        stored = await database.conversations.find_one({"conversationId": cid})
        assert stored is not None and response.json()["title"] == stored["title"]
        # Read once: gone for every replica.
        again = await client.get(f"/api/convos/gen_title/{cid}", headers=auth(ALICE))
        assert again.status_code == 404


async def test_a_failing_title_api_falls_back_to_the_offline_generator(
    mongo_uri: str, database: Database
) -> None:
    closed_port = f"http://127.0.0.1:9/v1?{uuid.uuid4().hex}"
    settings = make_settings(
        mongo_uri,
        title_api_base_url=closed_port.split("?")[0],
        title_timeout_s=0.2,
        title_max_retries=0,
    )
    app = create_app(settings, database=database)
    async with app.router.lifespan_context(app):
        _services(app).title_wait_delays = FAST
        cid = await _untitled(database)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get(f"/api/convos/gen_title/{cid}", headers=auth(ALICE))
    assert response.status_code == 200
    assert "pasta" in response.json()["title"].lower()


async def test_an_import_titles_the_conversations_its_file_left_untitled(
    app: Starlette, client: httpx.AsyncClient, database: Database
) -> None:
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "imports" / "claude.json"
    response = await client.post(
        "/api/convos/import",
        headers=auth(ALICE),
        files={"file": ("claude.json", fixture.read_bytes(), "application/json")},
    )
    assert response.status_code == 201
    titles = _services(app).titles
    assert titles is not None
    await titles.drain()
    stored = await database.conversations.find({"user": ALICE}).to_list(None)
    assert stored and all(doc["title"] not in DEFAULT_TITLES for doc in stored)
    # The titled conversation of the file kept its own title.
    assert "Prime check" in {doc["title"] for doc in stored}
