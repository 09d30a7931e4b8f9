"""LibreChat's ``/api/convos`` routes: parse the request, call the operation,
shape LibreChat's JSON. No rule lives here (see ``resolvers.conversations``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.jsonutil import JSONResponse
from app.rest.body import arg, field, query_bool, query_int, query_list, query_text
from app.rest.common import body, caller, client_ip, services
from app.rest.errors import rest_endpoint
from resolvers import conversations as ops
from resolvers import fork as fork_ops
from resolvers import title_generation
from resolvers.errors import BadInput

# Keys every list item carries (CONTRACT.md) even when an old document lacks
# them, with LibreChat's schema defaults. Applied here, on the JSON shape only:
# cursors are built from the stored values (a missing title sorts first).
_SUMMARY_DEFAULTS: dict[str, object] = {"title": "New Chat", "endpoint": None, "model": None}


def _summary_json(doc: dict[str, object]) -> dict[str, object]:
    return {**_SUMMARY_DEFAULTS, **doc}


@rest_endpoint
async def list_conversations(request: Request) -> Response:
    user = caller(request)
    params = request.query_params
    query = ops.ListQuery(
        limit=query_int(request, "limit"),
        cursor=params.get("cursor") or None,
        is_archived=query_bool(request, "isArchived") or False,
        tags=query_list(request, "tags"),
        search=query_text(request, "search", decode_twice=True),
        pinned=query_bool(request, "pinned"),
        sort_by=params.get("sortBy") or "updatedAt",
        sort_direction=params.get("sortDirection") or "desc",
        page_number=query_int(request, "pageNumber"),
    )
    page = await ops.list_conversations(services(request), user, query)
    return JSONResponse(
        {
            "conversations": [_summary_json(d) for d in page.items],
            "nextCursor": page.next_cursor,
            "pageNumber": page.page_number,
            "pageSize": page.page_size,
            "pages": await page.pages(),
        }
    )


@rest_endpoint
async def get_conversation(request: Request) -> Response:
    user = caller(request)
    doc = await ops.get_conversation(
        services(request), user, request.path_params["conversation_id"]
    )
    return JSONResponse(doc)


@rest_endpoint
async def update_conversation(request: Request) -> Response:
    user = caller(request)
    data = arg(await body(request))
    doc = await ops.update_title(
        services(request), user, field(data, "conversationId"), field(data, "title")
    )
    return JSONResponse(doc, status_code=201)


@rest_endpoint
async def archive_conversation(request: Request) -> Response:
    user = caller(request)
    data = arg(await body(request))
    doc = await ops.archive(
        services(request), user, field(data, "conversationId"), field(data, "isArchived")
    )
    return JSONResponse(doc)


@rest_endpoint
async def pin_conversation(request: Request) -> Response:
    user = caller(request)
    data = arg(await body(request))
    doc = await ops.pin(
        services(request), user, field(data, "conversationId"), field(data, "pinned")
    )
    return JSONResponse(doc)


def _delete_shape(result: ops.DeleteResult) -> dict[str, object]:
    return {
        "acknowledged": True,
        "deletedCount": result.conversations,
        "messages": {"acknowledged": True, "deletedCount": result.messages},
        "conversationIds": list(result.conversation_ids),
    }


@rest_endpoint
async def delete_conversation(request: Request) -> Response:
    user = caller(request)
    data = arg(await body(request))
    if not any(data.get(k) for k in ("conversationId", "source", "thread_id", "endpoint")):
        raise BadInput("no parameters provided")
    # thread_id/endpoint of an assistants conversation are accepted; there is
    # no assistants backend here whose thread could be deleted.
    result = await ops.delete_conversation(services(request), user, field(data, "conversationId"))
    return JSONResponse(_delete_shape(result), status_code=201)


@rest_endpoint
async def delete_all_conversations(request: Request) -> Response:
    user = caller(request)
    # No field is read, but a body that is sent obeys the same rules as
    # everywhere (size, JSON, no "$" keys) rather than being ignored.
    await body(request)
    result = await ops.delete_all_conversations(services(request), user)
    return JSONResponse(_delete_shape(result), status_code=201)


def _copy_shape(result: fork_ops.ConversationCopy) -> dict[str, object]:
    return {"conversation": result.conversation, "messages": result.messages}


@rest_endpoint
async def fork_conversation(request: Request) -> Response:
    user = caller(request)
    data = await body(request)
    result = await fork_ops.fork_conversation(
        services(request),
        user,
        field(data, "conversationId"),
        field(data, "messageId"),
        field(data, "option"),
        field(data, "splitAtTarget"),
        field(data, "latestMessageId"),
        client_ip=client_ip(request),
    )
    return JSONResponse(_copy_shape(result))


@rest_endpoint
async def duplicate_conversation(request: Request) -> Response:
    user = caller(request)
    data = await body(request)
    result = await fork_ops.duplicate_conversation(
        services(request),
        user,
        field(data, "conversationId"),
        field(data, "title"),
        client_ip=client_ip(request),
    )
    return JSONResponse(_copy_shape(result), status_code=201)


@rest_endpoint
async def gen_title(request: Request) -> Response:
    user = caller(request)
    title = await title_generation.generated_title(
        services(request), user, request.path_params["conversation_id"]
    )
    return JSONResponse({"title": title})


@rest_endpoint
async def search_enabled(request: Request) -> Response:
    caller(request)
    # Our search needs no extra service, so it is always on.
    return JSONResponse(True)


routes = [
    Route("/api/convos", list_conversations, methods=["GET"]),
    Route("/api/convos", delete_conversation, methods=["DELETE"]),
    Route("/api/convos/all", delete_all_conversations, methods=["DELETE"]),
    Route("/api/convos/update", update_conversation, methods=["POST"]),
    Route("/api/convos/archive", archive_conversation, methods=["POST"]),
    Route("/api/convos/pin", pin_conversation, methods=["POST"]),
    Route("/api/convos/fork", fork_conversation, methods=["POST"]),
    Route("/api/convos/duplicate", duplicate_conversation, methods=["POST"]),
    Route("/api/convos/gen_title/{conversation_id}", gen_title, methods=["GET"]),
    Route("/api/convos/{conversation_id}", get_conversation, methods=["GET"]),
    Route("/api/search/enable", search_enabled, methods=["GET"]),
]
