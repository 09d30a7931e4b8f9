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

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cross_web import FormData, HTTPException, StarletteRequestAdapter
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from app.auth import TokenVerifier
from app.client_ip import TrustedProxies
from app.graphql.http_semantics import Rejected, graphql_error, refusal
from app.http_errors import BAD_REQUEST
from app.uploads import SpooledForm, UploadLimits, check_declared_length, spool_form
from resolvers.adapters.rate_limiter import RateLimitUnavailable
from resolvers.adapters.services import Services
from resolvers.importing import operation as import_ops
from resolvers.operations.errors import UserError

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


def _bad_map(message: str) -> Rejected:
    return Rejected(400, message, code=BAD_REQUEST)


def place_files(operations: Any, files_map: Any, files: Mapping[str, Any]) -> Any:
    """Put each uploaded file where the ``map`` part says (GraphQL multipart request spec).

    ``map`` is ``{"<part name>": ["<dotted path into operations>", ...]}``.
    Every step of a path but the last must name an existing key of an object
    or index of a list; the last names a key of an object or an existing
    index of a list. ``operations`` is changed in place (it was just decoded).

    Raises:
        Rejected: 400 (BAD_REQUEST) for any other ``map``, or a part it names
            that was not sent.
    """
    if not isinstance(files_map, dict):
        raise _bad_map("The multipart `map` must be an object of file names to paths")
    for name, paths in files_map.items():
        if name not in files:
            raise _bad_map("File(s) missing in form data")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise _bad_map("Each multipart `map` entry must be a list of paths")
        for path in paths:
            _place(operations, path, files[name])
    return operations


def _place(operations: Any, path: str, file: Any) -> None:
    *steps, last = path.split(".")
    target = operations
    for step in steps:
        target = _step(target, step, path)
    if isinstance(target, dict):
        target[last] = file
    elif isinstance(target, list):
        target[_index(target, last, path)] = file
    else:
        raise _bad_map(f"The multipart `map` path {path[:100]!r} leads to no object or list")


def _step(target: Any, step: str, path: str) -> Any:
    if isinstance(target, dict) and step in target:
        return target[step]
    if isinstance(target, list):
        return target[_index(target, step, path)]
    raise _bad_map(f"The multipart `map` path {path[:100]!r} leads to no object or list")


def _index(target: list[Any], step: str, path: str) -> int:
    if not step.isdigit() or int(step) >= len(target):
        raise _bad_map(f"The multipart `map` path {path[:100]!r} has no list index {step[:20]!r}")
    return int(step)
