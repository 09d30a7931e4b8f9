"""LibreChat's ``/api/tags`` routes (translation only; rules in ``resolvers.operations.tags``).

A tag in a path is percent-decoded from the raw path, so tags holding ``/``
(sent as ``%2F``) work, and ``/api/tags/convo/<id>`` is told apart from a tag
named ``convo/<id>`` by whether the slash was encoded.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.http_errors import ENDPOINT_NOT_FOUND
from app.jsonutil import JSONResponse
from app.rest import fields
from app.rest.body import query_int, query_text
from app.rest.common import body, caller, services
from app.rest.errors import Endpoint, rest_endpoint
from resolvers.operations import tags as ops
from resolvers.operations.errors import BadInput, NotFound
from resolvers.operations.validation import MAX_DESCRIPTION_LENGTH

_PREFIX = b"/api/tags/"


def _target(request: Request) -> tuple[str, str]:
    """("tag", name) or ("convo", conversationId) from the raw request path."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.split(b"?", 1)[0]
    tail = path[len(_PREFIX) :] if path.startswith(_PREFIX) else b""
    segments = tail.split(b"/")
    try:
        if len(segments) == 1 and segments[0]:
            return "tag", unquote(segments[0].decode("ascii"), errors="strict")
        if len(segments) == 2 and segments[0] == b"convo" and segments[1]:
            return "convo", unquote(segments[1].decode("ascii"), errors="strict")
    except UnicodeDecodeError as exc:
        raise BadInput("The path is not valid UTF-8") from exc
    raise NotFound(ENDPOINT_NOT_FOUND)


def _target_of(request: Request, kind: str) -> str:
    """The path's tag or conversation id; the other kind is an unknown endpoint."""
    found, value = _target(request)
    if found != kind:
        raise NotFound(ENDPOINT_NOT_FOUND)
    return value


@rest_endpoint
async def list_tags(request: Request) -> Response:
    user = caller(request)
    return JSONResponse(await ops.list_tags(services(request), user))


@rest_endpoint
async def list_tags_page(request: Request) -> Response:
    user = caller(request)
    page = await ops.list_tags_page(
        services(request),
        user,
        page_number=query_int(request, "pageNumber"),
        sort=query_text(request, "sort") or None,
        order=query_text(request, "order") or None,
        page_size=query_int(request, "pageSize"),
    )
    return JSONResponse(
        {
            "tags": page.tags,
            "pageNumber": page.page_number,
            "pageSize": page.page_size,
            "pages": page.pages,
        }
    )


def _description(data: fields.Body) -> str | None:
    return fields.optional_string(data, "description", MAX_DESCRIPTION_LENGTH)


@rest_endpoint
async def create_tag(request: Request) -> Response:
    user = caller(request)
    data = await body(request)
    name = fields.tag(data.get("tag"))
    description = _description(data)
    add = fields.optional_bool(data, "addToConversation")
    doc = await ops.create_tag(
        services(request),
        user,
        tag=name,
        description=description,
        conversation_id=fields.required_id(data) if add else None,
    )
    return JSONResponse(doc)


@rest_endpoint
async def put_tag_path(request: Request) -> Response:
    user = caller(request)
    kind, value = _target(request)
    data = await body(request)
    if kind == "convo":
        tags = await ops.set_conversation_tags(
            services(request),
            user,
            conversation_id=value,
            tags=fields.string_list(data, "tags"),
        )
        return JSONResponse(tags)
    new_name = data.get("tag")
    doc = await ops.update_tag(
        services(request),
        user,
        tag=value,
        new_name=None if new_name is None else fields.tag(new_name),
        description=_description(data),
        position=fields.optional_int(data, "position"),
    )
    return JSONResponse(doc)


@rest_endpoint
async def post_tag_path(request: Request) -> Response:
    user = caller(request)
    cid = _target_of(request, "convo")
    data = await body(request)
    tags = await ops.add_conversation_tag(
        services(request), user, conversation_id=cid, tag=fields.tag(data.get("tag"))
    )
    return JSONResponse(tags)


@rest_endpoint
async def delete_tag_path(request: Request) -> Response:
    user = caller(request)
    name = _target_of(request, "tag")
    await body(request)  # unused, but checked like every body (size, JSON, "$" keys)
    return JSONResponse(await ops.delete_tag(services(request), user, tag=name))


@rest_endpoint
async def rebuild_tags(request: Request) -> Response:
    user = caller(request)
    await body(request)  # unused, but checked like every body
    return JSONResponse(await ops.rebuild_tags(services(request), user))


_TAG_PATH_HANDLERS: dict[str, Endpoint] = {
    "PUT": put_tag_path,
    "POST": post_tag_path,
    "DELETE": delete_tag_path,
}


async def tag_path(request: Request) -> Response:
    """``/api/tags/<tag>`` and ``/api/tags/convo/<id>``, by method."""
    return await _TAG_PATH_HANDLERS[request.method](request)


routes = [
    Route("/api/tags", list_tags, methods=["GET"]),
    Route("/api/tags", create_tag, methods=["POST"]),
    Route("/api/tags/list", list_tags_page, methods=["GET"]),
    # Before the tag path: POST /api/tags/rebuild is this route, while PUT and
    # DELETE /api/tags/rebuild still name a tag called "rebuild".
    Route("/api/tags/rebuild", rebuild_tags, methods=["POST"]),
    Route("/api/tags/{rest:path}", tag_path, methods=list(_TAG_PATH_HANDLERS)),
]
