"""The GraphiQL page, served from assets vendored into app/static/graphiql.

Nothing is fetched from a CDN, so the page works on a machine without
internet. The Headers tab opens with an ``Authorization: Bearer `` template
to paste a token into (``convos-gateway token --user ID`` prints one).
Assets come from npm at fixed versions (tools/graphiql, ``make graphiql-assets``).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import HTMLResponse

ASSETS_DIR: Final = Path(__file__).resolve().parent.parent / "static" / "graphiql"

# GraphiQL runs from our own assets: no CDN, no inline script. React sets
# inline styles, and the bundled fonts are data: URIs.
GRAPHIQL_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

DEFAULT_HEADERS: Final = '{\n  "Authorization": "Bearer "\n}'

DEFAULT_QUERY: Final = """# Put a token after "Bearer " in Headers below
# (`convos-gateway token --user ID` prints one).

query RecentConversations {
  conversations(first: 10) {
    edges {
      node {
        conversationId
        title
        updatedAt
        tags { tag }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def graphiql_html(*, endpoint: str, assets_url: str) -> str:
    """The GraphiQL page for ``endpoint``, loading scripts from ``assets_url``."""
    config = json.dumps(
        {"endpoint": endpoint, "defaultHeaders": DEFAULT_HEADERS, "defaultQuery": DEFAULT_QUERY}
    ).replace("<", "\\u003c")
    base = html.escape(assets_url.rstrip("/"), quote=True)
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>convos-gateway GraphiQL</title>
  <link rel="stylesheet" href="{base}/graphiql.min.css">
  <link rel="stylesheet" href="{base}/page.css">
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script id="graphiql-config" type="application/json">{config}</script>
  <script src="{base}/react.production.min.js"></script>
  <script src="{base}/react-dom.production.min.js"></script>
  <script src="{base}/graphql-ws.min.js"></script>
  <script src="{base}/graphiql.min.js"></script>
  <script src="{base}/init.js"></script>
</body>
</html>
"""


def graphiql_response(request: Request, *, assets_url: str) -> HTMLResponse:
    """The page for the endpoint ``request`` was sent to, under a strict CSP."""
    return HTMLResponse(
        graphiql_html(endpoint=str(request.url.path), assets_url=assets_url),
        headers={"Content-Security-Policy": GRAPHIQL_CSP, "Cache-Control": "no-cache"},
    )
