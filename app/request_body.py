"""Reading a request body with a size cap, shared by the REST and GraphQL edges."""

from __future__ import annotations

from starlette.requests import Request

from resolvers.operations.errors import PayloadTooLarge

TOO_LARGE = "Request body too large"


async def read_limited(request: Request, max_bytes: int) -> bytes:
    """The raw body, refusing (413) as soon as it grows past ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(TOO_LARGE)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(TOO_LARGE)
        chunks.append(chunk)
    return b"".join(chunks)
