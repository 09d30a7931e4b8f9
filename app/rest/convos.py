"""LibreChat's ``/api/convos`` routes: parse the request, call the operation,
shape LibreChat's JSON. No rule lives here (see ``resolvers.conversations``).

Fields are read in the order LibreChat's routes check them, so the first
error named is the one LibreChat names.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.jsonutil import JSONResponse
from app.rest import fields
from app.rest.body import arg, query_bool, query_int, query_list, query_text
from app.rest.common import body, caller, client_ip, services
from app.rest.errors import rest_endpoint
from resolvers import conversations as ops
from resolvers import fork as fork_ops
from resolvers import title_generation
from resolvers.errors import BadInput

# LibreChat's fork option names plus the published description's aliases;
# missing, null or "" means targetLevel.
_FORK_OPTIONS = {
    **{option.value: option for option in fork_ops.ForkOption},
    "target": fork_ops.ForkOption.TARGET_LEVEL,
    "branch": fork_ops.ForkOption.INCLUDE_BRANCHES,
}


def _fork_option(value: object) -> fork_ops.ForkOption:
    if value is None or value == "":
        return fork_ops.ForkOption.TARGET_LEVEL
    if not isinstance(value, str) or value not in _FORK_OPTIONS:
        raise BadInput("option must be one of directPath, includeBranches, targetLevel")
    return _FORK_OPTIONS[value]


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
            "conversations": page.list_items(),
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
        services(request), user, conversation_id=request.path_params["conversation_id"]
    )
    return JSONResponse(doc)


@rest_endpoint
async def update_conversation(request: Request) -> Response:
    user = caller(request)
    data = arg(await body(request))
    doc = await ops.update_title(
        services(request),
        user,
        conversation_id=fields.required_id(data),
        title=fields.string_field(data, "title"),
    )
    return JSONResponse(doc, status_code=201)


@rest_endpoint
async def archive_conversation(request: Request) -> Response:
    user = caller(request)
    data = arg(await body(request))
    doc = await ops.archive(
        services(request),
        user,
        conversation_id=fields.required_id(data),
        is_archived=fields.boolean(data.get("isArchived"), "isArchived"),
    )
    return JSONResponse(doc)


@rest_endpoint
async def pin_conversation(request: Request) -> Response:
    user = caller(request)
    data = arg(await body(request))
    doc = await ops.pin(
        services(request),
        user,
        conversation_id=fields.required_id(data),
        # LibreChat tells an absent flag ("pinned is required") from a wrong one.
        pinned=fields.boolean(fields.required(data, "pinned"), "pinned"),
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
    result = await ops.delete_conversation(
        services(request),
        user,
        conversation_id=fields.optional_id(data, "conversationId"),
        thread_id=fields.optional_string(data, "thread_id"),
        endpoint=fields.optional_string(data, "endpoint"),
        source=fields.optional_string(data, "source"),
    )
    return JSONResponse(_delete_shape(result), status_code=201)


@rest_endpoint
async def delete_all_conversations(request: Request) -> Response:
    user = caller(request)
    # No field is read, but a body that is sent obeys the same rules as
    # everywhere (size, JSON, no "$" keys) rather than being ignored.
    await body(request)
    result = await ops.delete_all_conversations(services(request), user)
    return JSONResponse(_delete_shape(result), status_code=201)


async def _admit_fork(request: Request, user: str) -> fork_ops.ForkAdmission:
    # Before the fields are parsed: a request that fails validation counts too.
    return await fork_ops.admit_fork(services(request), user, client_ip=client_ip(request))


def _copy_shape(result: fork_ops.ConversationCopy) -> dict[str, object]:
    return {"conversation": result.conversation, "messages": result.messages}


@rest_endpoint
async def fork_conversation(request: Request) -> Response:
    user = caller(request)
    data = await body(request)
    admission = await _admit_fork(request, user)
    conversation_id = fields.required_id(data)
    message_id = fields.required_id(data, "messageId")
    option = _fork_option(data.get("option"))
    split_at_target = fields.optional_bool(data, "splitAtTarget") or False
    latest = fields.optional_id(data, "latestMessageId")
    result = await fork_ops.fork_conversation(
        services(request),
        admission,
        conversation_id=conversation_id,
        message_id=message_id,
        option=option,
        split=fork_ops.split_at(split_at_target, latest),
    )
    return JSONResponse(_copy_shape(result))


@rest_endpoint
async def duplicate_conversation(request: Request) -> Response:
    user = caller(request)
    data = await body(request)
    admission = await _admit_fork(request, user)
    result = await fork_ops.duplicate_conversation(
        services(request),
        admission,
        conversation_id=fields.required_id(data),
        title=fields.optional_string(data, "title"),
    )
    return JSONResponse(_copy_shape(result), status_code=201)


@rest_endpoint
async def gen_title(request: Request) -> Response:
    user = caller(request)
    title = await title_generation.generated_title(
        services(request), user, conversation_id=request.path_params["conversation_id"]
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
