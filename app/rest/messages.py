"""LibreChat's ``/api/messages`` reads (translation only; rules in
``resolvers.operations.messages``): a conversation's messages whole, and a page
of them by cursor (docs/contract.md#messages).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app.jsonutil import JSONResponse, dumps
from app.rest.body import query_int
from app.rest.common import caller, services
from app.rest.errors import rest_endpoint
from resolvers.operations import messages as ops
from storage.database import Document

# Bytes gathered before a chunk is sent: few large writes, not one per message.
_CHUNK_BYTES = 64 * 1024


async def _json_array(
    first: Document | None, rest: AsyncIterator[Document]
) -> AsyncIterator[bytes]:
    """``[doc, doc, ...]`` encoded as it is read, so memory stays at one chunk."""
    if first is None:
        yield b"[]"
        return
    chunk = bytearray(b"[")
    chunk += dumps(first)
    async for doc in rest:
        chunk += b","
        chunk += dumps(doc)
        if len(chunk) >= _CHUNK_BYTES:
            yield bytes(chunk)
            chunk.clear()
    chunk += b"]"
    yield bytes(chunk)


@rest_endpoint
async def conversation_messages(request: Request) -> Response:
    user = caller(request)
    docs = await ops.conversation_messages(
        services(request), user, conversation_id=request.path_params["conversation_id"]
    )
    # The first read happens here, inside the error handling: a database that
    # is down answers 503 rather than a response cut short after its headers.
    first = await anext(docs, None)
    return StreamingResponse(
        _json_array(first, docs), media_type=JSONResponse.media_type, status_code=200
    )


@rest_endpoint
async def message_page(request: Request) -> Response:
    user = caller(request)
    params = request.query_params
    conversation_id = params.get("conversationId") or None
    size = ops.page_size(query_int(request, "pageSize"))
    if conversation_id is None:
        # LibreChat answers an empty page without a conversation (its message
        # search runs on Meilisearch, which is not served here).
        return JSONResponse({"messages": [], "nextCursor": None})
    page = await ops.message_page(
        services(request),
        user,
        conversation_id=conversation_id,
        cursor=params.get("cursor") or None,
        size=size,
        sort_by=params.get("sortBy") or "updatedAt",
        sort_direction=params.get("sortDirection") or "desc",
        message_id=params.get("messageId") or None,
    )
    return JSONResponse({"messages": page.messages, "nextCursor": page.next_cursor})


routes = [
    Route("/api/messages", message_page, methods=["GET"]),
    Route("/api/messages/{conversation_id}", conversation_messages, methods=["GET"]),
]
