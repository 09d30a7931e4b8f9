"""The GraphiQL page, served from assets vendored into app/static/graphiql.

Nothing is fetched from a CDN, so the page works on a machine without
internet. The Headers tab opens with an ``Authorization: Bearer `` template
to paste a token into (``convos-gateway token --user ID`` prints one), or, in
development when the gateway generated its own secret, with the token
``serve`` printed already filled in (``token=``), so the first query just runs.
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

_PASTE_A_TOKEN: Final = """# Put a token after "Bearer " in Headers below
# (`convos-gateway token --user ID` prints one).
"""
_TOKEN_FILLED_IN: Final = """# The development user's token is already in Headers below:
# press Run (Ctrl-Enter).
"""
_RECENT_CONVERSATIONS: Final = """
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
DEFAULT_QUERY: Final = _PASTE_A_TOKEN + _RECENT_CONVERSATIONS


def graphiql_html(*, endpoint: str, assets_url: str, token: str | None = None) -> str:
    """The GraphiQL page for ``endpoint``, loading scripts from ``assets_url``.

    With ``token``, the Headers tab opens with it (development only: the
    view never passes one in production).
    """
    if token is None:
        headers, query = DEFAULT_HEADERS, DEFAULT_QUERY
    else:
        headers = json.dumps({"Authorization": f"Bearer {token}"}, indent=2)
        query = _TOKEN_FILLED_IN + _RECENT_CONVERSATIONS
    config = json.dumps(
        {"endpoint": endpoint, "defaultHeaders": headers, "defaultQuery": query}
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


def graphiql_response(
    request: Request, *, assets_url: str, token: str | None = None
) -> HTMLResponse:
    """The page for the endpoint ``request`` was sent to, under a strict CSP."""
    return HTMLResponse(
        graphiql_html(endpoint=str(request.url.path), assets_url=assets_url, token=token),
        headers={
            "Content-Security-Policy": GRAPHIQL_CSP,
            # A page carrying a token is kept by no cache.
            "Cache-Control": "no-store" if token is not None else "no-cache",
        },
    )
