"""Shared fixtures: one embedded database server per test session, one
database per test, the real ASGI app, and an HTTP client on it.

Set TEST_MONGO_URI to run the suite against another MongoDB instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app import metrics
from app.main import create_app
from app.settings import Settings
from storage.database import Database, connect
from storage.embedded import EmbeddedServer
from storage.indexes import ensure_indexes
from storage.search_index import SearchIndex
from tests.utils.factories import JWT_SECRET


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="run slow load/soak tests at full size (bounded versions always run)",
    )


@pytest.fixture(scope="session")
def run_slow(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--run-slow"))


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    external = os.environ.get("TEST_MONGO_URI")
    if external:
        yield external
        return
    server = EmbeddedServer(":memory:")
    server.start()
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.fixture
def db_name() -> str:
    return f"test_{uuid.uuid4().hex[:16]}"


@pytest.fixture
async def database(mongo_uri: str, db_name: str) -> AsyncIterator[Database]:
    # With the app's command listener, as app/main.py connects (/metrics tests).
    db = connect(
        mongo_uri, db_name=db_name, timeout_ms=5000, event_listeners=metrics.mongo_listeners()
    )
    await ensure_indexes(db)
    try:
        yield db
    finally:
        await db.client.drop_database(db_name)
        await db.close()


@pytest.fixture
async def index() -> AsyncIterator[SearchIndex]:
    """A search index in memory, following no feed: tests build it themselves
    (``rebuild``) and write behind it to make it stale."""
    built = SearchIndex(None)
    try:
        yield built
    finally:
        built.close()


def make_settings(mongo_uri: str, **overrides: Any) -> Settings:
    # No change feed unless a test asks for one: its background reads would
    # slow every test and add commands to those that count them. Its search
    # index, when asked for, in memory (not a file in CONVOS_DATA_DIR).
    base = Settings(
        env="test",
        jwt_secret=JWT_SECRET,
        mongo_uri=mongo_uri,
        change_feed="off",
        search_index_path=Path(":memory:"),
    )
    return Settings(**{**base.__dict__, **overrides})


@pytest.fixture
def settings(mongo_uri: str) -> Settings:
    return make_settings(mongo_uri)


@pytest.fixture
async def app(settings: Settings, database: Database) -> AsyncIterator[Starlette]:
    application = create_app(settings, database=database)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
