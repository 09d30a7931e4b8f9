"""LibreChat's ``POST /api/convos/import``: a multipart upload, field ``file``.

Order matters: the caller is authenticated and the rate limits are spent
before a byte of the body is read; the body is then streamed to a temporary
file (413 the moment the file crosses the limit); the file is imported whole
or not at all (see ``resolvers.importing.operation``) and deleted afterwards.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.jsonutil import JSONResponse
from app.rest.common import caller, client_ip, services
from app.rest.errors import rest_endpoint
from app.settings import Settings
from app.uploads import (
    SpooledForm,
    check_declared_length,
    import_limits,
    is_multipart,
    spool_form,
)
from resolvers.importing import operation as ops
from resolvers.operations.errors import BadInput

# LibreChat's client sends only `file`; other text fields are ignored.
_MAX_FIELD_BYTES = 64 * 1024


@rest_endpoint
async def import_conversations(request: Request) -> Response:
    user = caller(request)
    settings: Settings = request.app.state.settings
    admission = await ops.admit_import(services(request), user, client_ip=client_ip(request))
    content_type = request.headers.get("content-type")
    if not is_multipart(content_type):
        # No multipart body is a missing file, as LibreChat's multer sees it
        # (it answers 500; a 400 says what to fix).
        raise BadInput(ops.FILE_REQUIRED)
    limits = import_limits(settings, max_field_bytes=_MAX_FIELD_BYTES)
    check_declared_length(request.headers, limits)
    form = SpooledForm()
    try:
        form = await spool_form(request.stream(), content_type, limits, settings.import_temp_dir)
        upload = form.files.get("file")
        if upload is None:
            raise BadInput(ops.FILE_REQUIRED)
        await ops.import_conversations(
            services(request),
            admission,
            upload.open,
            max_uncompressed_bytes=settings.import_max_uncompressed_bytes,
        )
    finally:
        form.discard()
    return JSONResponse({"message": ops.IMPORTED}, status_code=201)


routes = [Route("/api/convos/import", import_conversations, methods=["POST"])]
