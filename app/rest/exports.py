"""``GET /api/convos/export``: a selection streamed as a file (an extension).

Authenticated by a bearer token, or by a link the GraphQL mutation
``exportConversations`` signed (``resolvers/exporting/links.py``): a link is
checked without a token. Either way the export rate limit is spent first,
then the selection is checked (400/403/404 before the first byte), then the
file is streamed with a ``Content-Disposition`` naming it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app.rest.common import caller, client_ip, services
from app.rest.errors import rest_endpoint
from app.rest.selection import from_query
from app.settings import Settings
from resolvers.exporting import operation as ops
from resolvers.exporting.formats import ExportFormat
from resolvers.exporting.links import ExportLinks
from resolvers.operations.errors import BadInput

_FORMATS = {fmt.value: fmt for fmt in ExportFormat}


def links(settings: Settings) -> ExportLinks:
    return ExportLinks(settings.jwt_secret, settings.export_link_ttl_s)


def _format(value: str | None) -> ExportFormat:
    if value is None or value == "":
        return ExportFormat.LIBRECHAT
    if value not in _FORMATS:
        raise BadInput(f"format must be one of {', '.join(_FORMATS)}")
    return _FORMATS[value]


@rest_endpoint
async def export_conversations(request: Request) -> Response:
    params = request.query_params
    if params.get("signature") is not None:
        user = links(request.app.state.settings).verify(params.multi_items())
    else:
        user = caller(request)
    admission = await ops.admit_export(services(request), user, client_ip=client_ip(request))
    fmt = _format(params.get("format"))
    stream = await ops.export_conversations(
        services(request), admission, selection=from_query(request), fmt=fmt
    )
    return StreamingResponse(
        stream.chunks,
        media_type=stream.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{stream.filename}"',
            # An export is the user's data: never kept by a shared cache.
            "Cache-Control": "no-store",
        },
    )


routes = [Route("/api/convos/export", export_conversations, methods=["GET"])]
