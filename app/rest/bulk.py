"""``POST /api/convos/bulk``: one action on many conversations (an extension).

LibreChat has no such route (its issue #6056); the body names a selection
(``app.rest.selection``), an ``action``, a ``tag`` for the tag actions and
``dryRun``. The rules are ``resolvers.operations.bulk``'s.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.jsonutil import JSONResponse
from app.rest import fields
from app.rest.common import body, caller, services
from app.rest.errors import rest_endpoint
from app.rest.selection import from_body
from resolvers.operations import bulk as ops
from resolvers.operations.errors import BadInput

_ACTIONS = {action.value: action for action in ops.BulkAction}


def _action(value: object) -> ops.BulkAction:
    if not isinstance(value, str) or value not in _ACTIONS:
        raise BadInput(f"action must be one of {', '.join(_ACTIONS)}")
    return _ACTIONS[value]


@rest_endpoint
async def bulk_update(request: Request) -> Response:
    user = caller(request)
    data = await body(request)
    action = _action(fields.required(data, "action"))
    tag = fields.optional_string(data, "tag")
    dry_run = fields.optional_bool(data, "dryRun") or False
    selection = from_body(data)
    result = await ops.bulk_update(
        services(request), user, selection=selection, action=action, tag=tag, dry_run=dry_run
    )
    return JSONResponse(
        {
            "action": result.action.value,
            "dryRun": result.dry_run,
            "matchedCount": result.matched_count,
            "modifiedCount": result.modified_count,
            "deletedMessageCount": result.deleted_message_count,
        }
    )


routes = [Route("/api/convos/bulk", bulk_update, methods=["POST"])]
