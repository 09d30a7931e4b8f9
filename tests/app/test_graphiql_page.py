"""The GraphiQL page is served with its vendored assets and a strict CSP."""

from __future__ import annotations

import httpx

ASSETS = (
    "graphiql.min.js",
    "graphiql.min.css",
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphql-ws.min.js",
    "init.js",
    "page.css",
)


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
