"""The GraphiQL page: vendored assets, a strict CSP, a token only in development."""

from __future__ import annotations

import json
import re

import httpx
from starlette.applications import Starlette

from app.main import create_app
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import ALICE, token

ASSETS = (
    "graphiql.min.js",
    "graphiql.min.css",
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphql-ws.min.js",
    "init.js",
    "page.css",
)
CONFIG = r'<script id="graphiql-config" type="application/json">(.*?)</script>'


async def test_graphiql_page_loads_only_local_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace('"endpoint": "/graphql"', "")
    for asset in (
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphql-ws.min.js",
        "init.js",
    ):
        assert f'/graphiql/{asset}"' in page.text
        response = await client.get(f"/graphiql/{asset}")
        assert response.status_code == 200, asset
    assert '\\"Authorization\\": \\"Bearer \\"' in page.text


async def _page(app: Starlette) -> httpx.Response:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.get("/graphql", headers={"Accept": "text/html"})


async def test_graphiql_page_opens_with_the_development_token_in_its_headers(
    mongo_uri: str, database: Database
) -> None:
    dev_token = token(ALICE)
    app = create_app(
        make_settings(mongo_uri, env="development", graphiql=True),
        database=database,
        graphiql_token=dev_token,
    )
    page = await _page(app)
    assert page.status_code == 200
    config = json.loads(re.search(CONFIG, page.text).group(1))  # type: ignore[union-attr]
    assert json.loads(config["defaultHeaders"]) == {"Authorization": f"Bearer {dev_token}"}
    assert "already in Headers" in config["defaultQuery"]
    # A page with a token is stored by no cache.
    assert page.headers["cache-control"] == "no-store"


async def test_graphiql_page_never_carries_a_token_in_production(
    mongo_uri: str, database: Database
) -> None:
    dev_token = token(ALICE)
    app = create_app(
        make_settings(mongo_uri, env="production", graphiql=True),
        database=database,
        graphiql_token=dev_token,
    )
    page = await _page(app)
    assert page.status_code == 200
    assert dev_token not in page.text
    config = json.loads(re.search(CONFIG, page.text).group(1))  # type: ignore[union-attr]
    assert json.loads(config["defaultHeaders"]) == {"Authorization": "Bearer "}
