"""LibreChat's ``/api/convos`` routes: parse the request, call the operation,
shape LibreChat's JSON. No rule lives here (see ``resolvers.operations.conversations``).

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
from resolvers.operations import conversations as ops
from resolvers.operations import date_filters
from resolvers.operations import fork as fork_ops
from resolvers.operations.errors import BadInput
from resolvers.titles import operation as title_generation

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
        # Extensions (docs/contract.md#convos-list-dates); LibreChat has no date filter.
        dates=date_filters.date_range(
            created_after=params.get("createdAfter"),
            created_before=params.get("createdBefore"),
            updated_after=params.get("updatedAfter"),
            updated_before=params.get("updatedBefore"),
        ),
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


async def _conversation_arg(request: Request) -> tuple[str, fields.Body, str]:
    """The caller, LibreChat's ``{"arg": {...}}`` body and its conversationId
    (the first field LibreChat checks).
    """
    user = caller(request)
    data = arg(await body(request))
    return user, data, fields.required_id(data)


@rest_endpoint
async def update_conversation(request: Request) -> Response:
    user, data, cid = await _conversation_arg(request)
    title = fields.string_field(data, "title")
    doc = await ops.update_title(services(request), user, conversation_id=cid, title=title)
    return JSONResponse(doc, status_code=201)


@rest_endpoint
async def archive_conversation(request: Request) -> Response:
    user, data, cid = await _conversation_arg(request)
    is_archived = fields.boolean(data.get("isArchived"), "isArchived")
    doc = await ops.archive(services(request), user, conversation_id=cid, is_archived=is_archived)
    return JSONResponse(doc)


@rest_endpoint
async def archive_all_conversations(request: Request) -> Response:
    user = caller(request)
    await body(request)  # the client sends {}; no field is read, but the body is checked
    archived = await ops.archive_all(services(request), user)
    return JSONResponse({"archivedCount": archived})


@rest_endpoint
async def pin_conversation(request: Request) -> Response:
    user, data, cid = await _conversation_arg(request)
    # LibreChat tells an absent flag ("pinned is required") from a wrong one.
    pinned = fields.boolean(fields.required(data, "pinned"), "pinned")
    doc = await ops.pin(services(request), user, conversation_id=cid, pinned=pinned)
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


async def _admitted_body(request: Request) -> tuple[fork_ops.ForkAdmission, fields.Body]:
    """The body and a fork admission for the caller, taken before any field is
    parsed: a request that then fails validation counts too.
    """
    user = caller(request)
    data = await body(request)
    admission = await fork_ops.admit_fork(services(request), user, client_ip=client_ip(request))
    return admission, data


def _copy_shape(result: fork_ops.ConversationCopy) -> dict[str, object]:
    return {"conversation": result.conversation, "messages": result.messages}


@rest_endpoint
async def fork_conversation(request: Request) -> Response:
    admission, data = await _admitted_body(request)
    # Keyword arguments are evaluated in order: LibreChat's order of checks.
    result = await fork_ops.fork_conversation(
        services(request),
        admission,
        conversation_id=fields.required_id(data),
        message_id=fields.required_id(data, "messageId"),
        option=_fork_option(data.get("option")),
        split=fork_ops.split_at(
            fields.optional_bool(data, "splitAtTarget") or False,
            fields.optional_id(data, "latestMessageId"),
        ),
    )
    return JSONResponse(_copy_shape(result))


@rest_endpoint
async def duplicate_conversation(request: Request) -> Response:
    admission, data = await _admitted_body(request)
    conversation_id = fields.required_id(data)
    title = fields.optional_string(data, "title")
    result = await fork_ops.duplicate_conversation(
        services(request), admission, conversation_id=conversation_id, title=title
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
    Route("/api/convos/archive/all", archive_all_conversations, methods=["POST"]),
    Route("/api/convos/pin", pin_conversation, methods=["POST"]),
    Route("/api/convos/fork", fork_conversation, methods=["POST"]),
    Route("/api/convos/duplicate", duplicate_conversation, methods=["POST"]),
    Route("/api/convos/gen_title/{conversation_id}", gen_title, methods=["GET"]),
    Route("/api/convos/{conversation_id}", get_conversation, methods=["GET"]),
    Route("/api/search/enable", search_enabled, methods=["GET"]),
]
