"""The GraphQL endpoint: Strawberry's ASGI view with our context and encoder.

Bodies are bounded before Strawberry reads them: a JSON request at
``MAX_JSON_BODY_BYTES`` (413, as on REST), a multipart upload (the GraphQL
multipart request spec, for ``importConversations``) at the import file limit.

Multipart uploads are the one kind of request a browser sends cross-site
without a CORS preflight, so they must carry a header a form cannot set
(``Apollo-Require-Preflight``, Apollo's CSRF prevention; CVE-2024-47082).
They are then handled as imports *before the body is read*: the token is
checked (401) and the import rate limits are spent (429), so neither an
anonymous client nor one over its budget makes the server read a large body.
The admission is handed to the ``importConversations`` resolver through the
context. The file is streamed to a temporary file (413 as soon as it crosses
the limit) and deleted when the request ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import strawberry
from cross_web import FormData, HTTPException, StarletteRequestAdapter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from app.auth import TokenVerifier
from app.client_ip import TrustedProxies
from app.jsonutil import JSONResponse, dumps
from app.rest.body import TOO_LARGE as BODY_TOO_LARGE
from app.rest.errors import STATUS_BY_CODE
from app.settings import Settings
from app.uploads import (
    SpooledForm,
    UploadLimits,
    check_declared_length,
    import_limits,
    is_multipart,
    spool_form,
)
from resolvers import imports as import_ops
from resolvers.context import GraphQLContext
from resolvers.errors import RateLimited, Unauthenticated, UserError
from resolvers.rate_limits import RateLimitUnavailable
from resolvers.schema import build_schema, should_mask
from resolvers.services import Services


def _introspection_field(context: IgnoreContext) -> bool:
    # GraphiQL's introspection query nests ofType a dozen levels deep; the
    # depth limit protects data fields, and introspection has its own switch.
    return context.field_name.startswith("__")


ExtensionFactory = Callable[[], SchemaExtension]


def schema_extensions(settings: Settings) -> list[ExtensionFactory]:
    """The protective extensions, each bounded by a setting (see app/settings.py).

    Strawberry builds extensions per request from these factories. The
    validation rules are created once here: the validation cache is keyed by
    the rule classes, so fresh classes per request would never hit it.
    """
    rules = (
        depth_validator(settings.max_query_depth, _introspection_field, None),
        alias_validator(settings.max_aliases),
    )
    extensions: list[ExtensionFactory] = [
        lambda: ParserCache(maxsize=settings.parser_cache_size),
        lambda: AddValidationRules(list(rules)),
        lambda: ValidationCache(maxsize=settings.validation_cache_size),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: MaskErrors(should_mask_error=should_mask, error_message="Internal server error"),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return extensions


def make_schema(settings: Settings) -> strawberry.Schema:
    return build_schema(schema_extensions(settings))


# Headers a cross-site HTML form cannot send, so requiring one makes a browser
# preflight the request (Apollo Server's csrfPrevention accepts the first two).
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name", "graphql-preflight")
CSRF_MESSAGE = (
    "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). "
    "Multipart requests need a non-empty Apollo-Require-Preflight header."
)
# Where the state of an upload request is kept in the ASGI scope.
_UPLOAD_SCOPE_KEY = "convos_gateway.upload"


@dataclass
class _UploadRequest:
    """One multipart request: its admission, limits, and the files to delete."""

    admissions: list[import_ops.ImportAdmission]
    limits: UploadLimits
    directory: Path | None
    forms: list[SpooledForm] = field(default_factory=list)


class _SpoolingRequestAdapter(StarletteRequestAdapter):
    """Strawberry's Starlette adapter, with multipart bodies streamed to disk."""

    def __init__(self, request: Request) -> None:
        super().__init__(request)
        self.starlette_request = request

    async def get_form_data(self) -> FormData:
        request = self.starlette_request
        upload: _UploadRequest | None = request.scope.get(_UPLOAD_SCOPE_KEY)
        if upload is None:
            # Strawberry saw multipart where GraphQLApp.__call__ did not: an
            # upload that was never admitted is not read.
            raise HTTPException(400, "Unsupported content type")
        form = await spool_form(
            request.stream(), request.headers.get("content-type"), upload.limits,
            upload.directory,
        )
        upload.forms.append(form)
        return FormData(files=form.files, form=form.fields)


def _graphql_error(
    status: int, message: str, code: str, extensions: dict[str, Any] | None = None
) -> Response:
    """An upload refused before execution: an HTTP status and GraphQL's error shape."""
    error = {"message": message, "extensions": {"code": code, **(extensions or {})}}
    return JSONResponse({"errors": [error]}, status_code=status)


def _refusal(exc: UserError) -> Response:
    # The statuses REST answers for the same errors.
    response = _graphql_error(
        STATUS_BY_CODE.get(exc.code, 400), exc.message, exc.code, exc.extensions
    )
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


class _BodyTooLarge(Exception):
    pass


def _body_too_large() -> Response:
    # The connection is kept: uvicorn discards whatever of the body the client
    # still sends. Closing it instead makes clients see a reset, not the 413.
    return JSONResponse({"message": BODY_TOO_LARGE}, status_code=413)


def _limited(receive: Receive, max_bytes: int) -> Receive:
    """``receive`` that stops a body once it grows past ``max_bytes``."""
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise _BodyTooLarge
        return message

    return limited_receive


class GraphQLApp(GraphQL[GraphQLContext, None]):
    """Strawberry's ASGI view with the gateway's auth, context and JSON encoder."""

    def __init__(
        self, schema: strawberry.Schema, settings: Settings, services: Services,
        verifier: TokenVerifier, proxies: TrustedProxies | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            # Safe here: __call__ demands a preflight header and admits the
            # import before Strawberry reads a multipart body.
            multipart_uploads_enabled=True,
        )
        self.services = services
        self.verifier = verifier
        self.proxies = proxies or TrustedProxies(())
        self.settings = settings
        # GraphQL documents are small: the operations part may take the JSON cap.
        self.upload_limits = import_limits(settings, max_field_bytes=settings.max_json_body_bytes)

    request_adapter_class = _SpoolingRequestAdapter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope)
        if is_multipart(request.headers.get("content-type")):
            await self._upload(request, receive, send)
            return
        max_bytes = self.settings.max_json_body_bytes
        declared = request.headers.get("content-length")
        response: Response | None = None
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            response = _body_too_large()
        else:
            try:
                await super().__call__(scope, _limited(receive, max_bytes), send)
            except _BodyTooLarge:
                response = _body_too_large()
        if response is not None:
            await response(scope, receive, send)

    async def _upload(self, request: Request, receive: Receive, send: Send) -> None:
        """A multipart request: refused, or admitted as an import and then run."""
        scope = request.scope
        if not any(request.headers.get(name, "").strip() for name in PREFLIGHT_HEADERS):
            await _graphql_error(400, CSRF_MESSAGE, "BAD_REQUEST")(scope, receive, send)
            return
        try:
            user = self.verifier.user_id(request.headers.get("authorization"))
            admission = await import_ops.admit_import(
                self.services, user, client_ip=self.proxies.for_connection(request)
            )
            check_declared_length(request.headers, self.upload_limits)
        except UserError as exc:
            await _refusal(exc)(scope, receive, send)
            return
        except RateLimitUnavailable:
            await _graphql_error(503, "Service unavailable", "SERVICE_UNAVAILABLE")(
                scope, receive, send
            )
            return
        upload = _UploadRequest([admission], self.upload_limits, self.settings.import_temp_dir)
        scope[_UPLOAD_SCOPE_KEY] = upload
        try:
            await super().__call__(scope, receive, send)
        except UserError as exc:
            # Raised while spooling, before any response started.
            await _refusal(exc)(scope, receive, send)
        finally:
            for form in upload.forms:
                form.discard()

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> GraphQLContext:
        try:
            user: str | None = self.verifier.user_id(request.headers.get("authorization"))
            reason = ""
        except Unauthenticated as exc:
            user, reason = None, exc.message
        upload: _UploadRequest | None = request.scope.get(_UPLOAD_SCOPE_KEY)
        return GraphQLContext(
            services=self.services, user_id=user, auth_error=reason or "No auth token",
            # The same client address REST uses, so per-IP limits are shared.
            extra={
                "request": request,
                "client_ip": self.proxies.for_connection(request),
                "import_admissions": upload.admissions if upload is not None else [],
                "import_max_uncompressed_bytes": self.settings.import_max_uncompressed_bytes,
            },
        )

    def encode_json(self, data: Any) -> bytes:
        return dumps(data)
