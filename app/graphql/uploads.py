"""GraphQL multipart uploads (for ``importConversations``): admission and spooling.

Multipart is the one kind of request a browser sends cross-site without a
CORS preflight, so it must carry a header a form cannot set
(``Apollo-Require-Preflight``; CVE-2024-47082). It is handled as an import
*before the body is read*: the token is checked (401) and the import rate
limits are spent (429); the file is then streamed to a temporary file by
app/uploads.py (413 as soon as it crosses the limit) and deleted when the
request ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cross_web import FormData, HTTPException, StarletteRequestAdapter
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from app.auth import TokenVerifier
from app.client_ip import TrustedProxies
from app.graphql.http_semantics import graphql_error, refusal
from app.uploads import SpooledForm, UploadLimits, check_declared_length, spool_form
from resolvers import imports as import_ops
from resolvers.errors import UserError
from resolvers.rate_limits import RateLimitUnavailable
from resolvers.services import Services

# Headers a cross-site HTML form cannot send, so requiring one makes a browser
# preflight the request (Apollo Server's csrfPrevention accepts the first two).
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name", "graphql-preflight")
CSRF_MESSAGE = (
    "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). "
    "Multipart requests need a non-empty Apollo-Require-Preflight header."
)
# Where the state of an upload request is kept in the ASGI scope.
UPLOAD_SCOPE_KEY = "convos_gateway.upload"


@dataclass
class UploadRequest:
    """One multipart request: its admission, limits, and the files to delete."""

    admissions: list[import_ops.ImportAdmission]
    limits: UploadLimits
    directory: Path | None
    forms: list[SpooledForm] = field(default_factory=list)

    def discard(self) -> None:
        """Delete every file spooled for this request."""
        for form in self.forms:
            form.discard()


async def admit_upload(
    request: Request,
    *,
    verifier: TokenVerifier,
    services: Services,
    proxies: TrustedProxies,
    limits: UploadLimits,
    directory: Path | None,
) -> UploadRequest | Response:
    """Admit a multipart request as an import before its body is read.

    Returns:
        The admitted upload, also left in the ASGI scope for the request
        adapter; or the response refusing it (CSRF 400, 401, 413, 429, 503).
    """
    if not any(request.headers.get(name, "").strip() for name in PREFLIGHT_HEADERS):
        return graphql_error(400, CSRF_MESSAGE, "BAD_REQUEST")
    try:
        user = verifier.user_id(request.headers.get("authorization"))
        admission = await import_ops.admit_import(
            services, user, client_ip=proxies.for_connection(request)
        )
        check_declared_length(request.headers, limits)
    except UserError as exc:
        return refusal(exc)
    except RateLimitUnavailable:
        return graphql_error(503, "Service unavailable", "SERVICE_UNAVAILABLE")
    upload = UploadRequest([admission], limits, directory)
    request.scope[UPLOAD_SCOPE_KEY] = upload
    return upload


def admitted_upload(connection: HTTPConnection) -> UploadRequest | None:
    """The upload admitted for this request, if it is one."""
    upload: UploadRequest | None = connection.scope.get(UPLOAD_SCOPE_KEY)
    return upload


class SpoolingRequestAdapter(StarletteRequestAdapter):
    """Strawberry's Starlette adapter, with multipart bodies streamed to disk."""

    def __init__(self, request: Request) -> None:
        super().__init__(request)
        self.starlette_request = request

    async def get_form_data(self) -> FormData:
        request = self.starlette_request
        upload = admitted_upload(request)
        if upload is None:
            # Strawberry saw multipart where the view did not: an upload that
            # was never admitted is not read.
            raise HTTPException(400, "Unsupported content type")
        form = await spool_form(
            request.stream(),
            request.headers.get("content-type"),
            upload.limits,
            upload.directory,
        )
        upload.forms.append(form)
        return FormData(files=form.files, form=form.fields)
