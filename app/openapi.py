"""``GET /openapi.json``: the REST routes' OpenAPI 3.1 document, served as checked in.

The file is built by ``tools/build_openapi.py`` and held against the app by
``tests/app/test_openapi.py``; it is public (no token), like ``/health``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DOCUMENT = Path(__file__).parent / "static" / "openapi.json"


@cache
def _document() -> bytes:
    # Read once: the file ships with the package and never changes at run time.
    return DOCUMENT.read_bytes()


async def openapi_document(request: Request) -> Response:
    return Response(_document(), media_type="application/json")


routes = [Route("/openapi.json", openapi_document, methods=["GET"])]
