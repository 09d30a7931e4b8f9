"""The GraphQL endpoint: Strawberry's ASGI view made production-ready.

On top of Strawberry's view this adds, each bounded by a setting
(app/settings.py):

- GraphQL over HTTP: ``application/graphql-response+json`` when the client
  accepts it, with 400 for parse, validation and variable errors (application/json
  keeps 200, as the specification asks during its transition); request errors
  carry no ``data`` entry; malformed requests answer JSON errors, not text.
- persisted queries (app/persisted_queries.py), on POST and GET;
- a request body cap (413) and an execution timeout (503, code TIMEOUT);
- WebSocket subscriptions over graphql-transport-ws only, authenticated at
  ``connection_init`` with the same JWT, a bounded number per connection;
- GraphiQL from vendored assets (app/graphiql.py);
- uploads (the GraphQL multipart request spec, for ``importConversations``).
  Multipart is the one kind of request a browser sends cross-site without a
  CORS preflight, so it must carry a header a form cannot set
  (``Apollo-Require-Preflight``; CVE-2024-47082). It is handled as an import
  *before the body is read*: the token is checked (401) and the import rate
  limits are spent (429); the file is then streamed to a temporary file (413
  as soon as it crosses the limit) and deleted when the request ends.

The normal path (a POST with a document) costs one dict lookup more than
Strawberry's own view: limits are validation rules cached with the document,
and no extension wraps resolvers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import jwt
import strawberry
from cross_web import FormData, HTTPException, StarletteRequestAdapter
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from app.auth import TokenVerifier
from app.client_ip import TrustedProxies
from app.graphiql import graphiql_html
from app.graphql_limits import Limits, create_limits_rule
from app.http_errors import REQUEST_LEVEL_CODES, status_for
from app.jsonutil import JSONResponse, dumps
from app.persisted_queries import NOT_FOUND, PersistedQueries, PersistedQueryError
from app.rest.body import read_limited
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
from resolvers.errors import PayloadTooLarge, RateLimited, Unauthenticated, UserError
from resolvers.rate_limits import RateLimitUnavailable
from resolvers.schema import build_schema, should_mask
from resolvers.services import Services

log = logging.getLogger("convos_gateway.graphql")

GRAPHQL_RESPONSE_JSON: Final = "application/graphql-response+json"
APPLICATION_JSON: Final = "application/json"
TIMEOUT: Final = "TIMEOUT"
INTERNAL: Final = "INTERNAL_SERVER_ERROR"
_NO_STORE = "private, no-cache, must-revalidate"
_SUB_RESPONSE = "graphql_sub_response"
_EXPIRY_TASK = "graphql_token_expiry"

ExtensionFactory = Callable[[], SchemaExtension]


class _OnlyServerErrors(logging.Filter):
    """Keep Strawberry's error log for errors we mask (the server's faults).

    Strawberry logs every GraphQL error at ERROR level; a typo in a client's
    query or a NOT_FOUND is the client's business, not an operator's.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.msg
        return not isinstance(error, GraphQLError) or should_mask(error)


def quiet_request_errors() -> None:
    """Install :class:`_OnlyServerErrors` on Strawberry's execution logger (once)."""
    logger = logging.getLogger("strawberry.execution")
    if not any(isinstance(f, _OnlyServerErrors) for f in logger.filters):
        logger.addFilter(_OnlyServerErrors())


class _MaskErrors(MaskErrors):
    """MaskErrors whose masked errors say INTERNAL_SERVER_ERROR.

    The HTTP status stays 200: GraphQL over HTTP asks for 2xx whenever the
    response has a ``data`` entry, even a null one."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL}
        return masked


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_cost=settings.max_query_cost,
        list_size_estimate=settings.list_size_estimate,
        max_list_size=settings.max_list_size,
    )


def schema_extensions(settings: Settings) -> list[ExtensionFactory]:
    """The protective extensions, each bounded by a setting (see app/settings.py).

    Strawberry builds extensions per request from these factories. The
    validation rule is created once here: the validation cache is keyed by
    the rule classes, so fresh classes per request would never hit it.
    """
    rules = (create_limits_rule(limits_from(settings)),)
    extensions: list[ExtensionFactory] = [
        lambda: ParserCache(maxsize=settings.parser_cache_size),
        lambda: AddValidationRules(list(rules)),
        lambda: ValidationCache(maxsize=settings.validation_cache_size),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: _MaskErrors(should_mask_error=should_mask, error_message="Internal server error"),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return extensions


def make_schema(settings: Settings) -> strawberry.Schema:
    quiet_request_errors()
    return build_schema(
        schema_extensions(settings),
        field_suggestions=settings.field_suggestions,
        max_batch=settings.max_batch,
        fast_path=settings.graphql_fast_path,
    )


def negotiate(accept: str | None) -> str:
    """The response media type for an Accept header (GraphQL over HTTP §7.4).

    ``application/graphql-response+json`` when the client lists it at least
    as high as JSON; ``application/json`` for ``*/*``, no header, or anything
    else (the specification's advice while clients migrate).
    """
    if not accept:
        return APPLICATION_JSON
    best, best_q = APPLICATION_JSON, -1.0
    for part in accept.split(","):
        media, _, params = part.partition(";")
        media = media.strip().lower()
        if media == GRAPHQL_RESPONSE_JSON:
            candidate = GRAPHQL_RESPONSE_JSON
        elif media in (APPLICATION_JSON, "application/*", "*/*"):
            candidate = APPLICATION_JSON
        else:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q or (q == best_q and candidate == GRAPHQL_RESPONSE_JSON):
            best, best_q = candidate, q
    return best if best_q > 0 else APPLICATION_JSON


def _is_request_error(result: ExecutionResult) -> bool:
    """Errors before execution (parse, validation, variables): no data, no paths."""
    return (
        bool(result.errors)
        and result.data is None
        and all(e.path is None for e in result.errors or ())
    )


def _codes(errors: list[GraphQLError]) -> Iterator[str]:
    for error in errors:
        code = (error.extensions or {}).get("code")
        if isinstance(code, str):
            yield code


class _SubResponse(Response):
    """Strawberry's per-request sub-response, with the negotiated media type."""

    media: str = APPLICATION_JSON


@dataclass
class GatewayContext(GraphQLContext):
    """The context, with the graphql-transport-ws ``connection_init`` payload."""

    connection_params: dict[str, Any] | None = None


class _TextWebSocketAdapter(ASGIWebSocketAdapter):
    """Sends protocol messages as text frames.

    Strawberry sends bytes as binary frames, and our encoder returns bytes;
    graphql-transport-ws clients (graphql-ws in browsers) only read text.
    """

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class _Rejected(Exception):
    """A request refused before GraphQL runs, answered as a JSON error."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


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
            request.stream(),
            request.headers.get("content-type"),
            upload.limits,
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
    response = _graphql_error(status_for(exc.code), exc.message, exc.code, exc.extensions)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


class GraphQLApp(GraphQL[GraphQLContext, None]):
    """Strawberry's ASGI view with the gateway's auth, limits and HTTP semantics."""

    websocket_adapter_class = _TextWebSocketAdapter
    request_adapter_class = _SpoolingRequestAdapter

    def __init__(
        self,
        schema: strawberry.Schema,
        settings: Settings,
        services: Services,
        verifier: TokenVerifier,
        proxies: TrustedProxies | None = None,
        *,
        persisted: PersistedQueries | None = None,
        assets_url: str = "/graphiql",
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_s),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            # Safe here: __call__ demands a preflight header and admits the
            # import before Strawberry reads a multipart body.
            multipart_uploads_enabled=True,
        )
        self.settings = settings
        # GraphQL documents are small: the operations part may take the JSON cap.
        self.upload_limits = import_limits(settings, max_field_bytes=settings.max_json_body_bytes)
        self.services = services
        self.verifier = verifier
        self.proxies = proxies or TrustedProxies(())
        self.persisted = persisted or PersistedQueries(None)
        self.assets_url = assets_url

    # -- HTTP ----------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        if request.method == "POST" and is_multipart(request.headers.get("content-type")):
            await self._upload(request, receive, send)
            return
        try:
            if request.method == "POST":
                # Read once, bounded, before Strawberry parses it.
                request._body = await read_limited(request, self.settings.max_body_bytes)
            response = await self.run(request)
        except PayloadTooLarge as exc:
            response = self._error_response(request, 413, exc.message)
        except _Rejected as exc:
            response = self._error_response(request, exc.status, exc.message, exc.headers)
        except HTTPException as exc:
            response = self._error_response(request, exc.status_code, exc.reason)
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
            response = await self.run(request)
        except UserError as exc:
            # Raised while spooling, before any response started.
            response = _refusal(exc)
        except _Rejected as exc:
            response = self._error_response(request, exc.status, exc.message, exc.headers)
        except HTTPException as exc:
            response = self._error_response(request, exc.status_code, exc.reason)
        finally:
            for form in upload.forms:
                form.discard()
        await response(scope, receive, send)

    def _error_response(
        self, request: Request, status: int, message: str, headers: Mapping[str, str] = {}
    ) -> Response:
        media = negotiate(request.headers.get("accept"))
        return Response(
            dumps({"errors": [{"message": message}]}),
            status_code=status,
            media_type=f"{media}; charset=utf-8",
            headers=dict(headers),
        )

    def should_render_graphql_ide(self, request: Any) -> bool:
        # Only for browsers asking for a page: a GET carrying a persisted
        # query (extensions, no query) with Accept */* is an API call.
        params = request.query_params
        return (
            request.method == "GET"
            and params.get("query") is None
            and params.get("extensions") is None
            and "text/html" in request.headers.get("accept", "")
        )

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub = _SubResponse()
        sub.status_code = None  # type: ignore[assignment]
        del sub.headers["content-length"]
        sub.media = negotiate(request.headers.get("accept"))
        # process_result gets only the request: leave the sub-response on it.
        request.scope.setdefault("state", {})[_SUB_RESPONSE] = sub
        return sub

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> GraphQLContext:
        try:
            user: str | None = self.verifier.user_id(request.headers.get("authorization"))
            reason = ""
        except Unauthenticated as exc:
            user, reason = None, exc.message
        upload: _UploadRequest | None = request.scope.get(_UPLOAD_SCOPE_KEY)
        context = GatewayContext(
            services=self.services,
            user_id=user,
            auth_error=reason or "No auth token",
            # The same client address REST uses, so per-IP limits are shared.
            extra={
                "request": request,
                "client_ip": self.proxies.for_connection(request),
                "import_admissions": upload.admissions if upload is not None else [],
                "import_max_uncompressed_bytes": self.settings.import_max_uncompressed_bytes,
            },
        )
        return context

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else (data,):
            if not isinstance(item.operation_name, str | None):
                raise HTTPException(
                    400, "The GraphQL operation's `operationName` must be a string or null."
                )
        return data

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: GraphQLContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        method = request_adapter.method
        # Subscriptions are served over WebSocket only; mutations never on GET.
        allowed = (
            {OperationType.QUERY}
            if method == "GET"
            else {OperationType.QUERY, OperationType.MUTATION}
        )
        try:
            resolved = await self.persisted.resolve(request_data.query, request_data.extensions)
        except PersistedQueryError as exc:
            return ExecutionResult(data=None, errors=[exc.graphql_error()])
        try:
            async with asyncio.timeout(self.settings.execution_timeout_s):
                result = await self.schema.execute(
                    resolved.query,
                    root_value=root_value,
                    variable_values=request_data.variables,
                    context_value=context,
                    operation_name=request_data.operation_name,
                    allowed_operation_types=allowed,
                    operation_extensions=request_data.extensions,
                )
        except TimeoutError:
            log.warning("GraphQL operation %r timed out", request_data.operation_name)
            return ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        f"The operation took longer than {self.settings.execution_timeout_s:g} s "
                        "and was stopped",
                        extensions={"code": TIMEOUT},
                    )
                ],
            )
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.SUBSCRIPTION:
                raise _Rejected(
                    400,
                    "Subscriptions are served over WebSocket (graphql-transport-ws) at this URL",
                ) from exc
            raise _Rejected(405, exc.as_http_error_reason(method), {"Allow": "POST"}) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request") from exc
        if resolved.register_as is not None and not _is_request_error(result):
            await self.persisted.register(resolved)
        return result

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        errors = result.errors or []
        request_error = _is_request_error(result)
        response: GraphQLHTTPResponse = {}
        if not request_error:
            response["data"] = result.data
        if errors:
            response["errors"] = [e.formatted for e in errors]
        if result.extensions:
            response["extensions"] = result.extensions

        sub = request.scope.get("state", {}).get(_SUB_RESPONSE)
        if isinstance(sub, _SubResponse):
            self._set_status(request, sub, result, request_error)
        return response

    def _set_status(
        self, request: Request, sub: _SubResponse, result: ExecutionResult, request_error: bool
    ) -> None:
        errors = result.errors or []
        codes = set(_codes(errors))
        status: int | None = None
        if TIMEOUT in codes:
            status = 503
        else:
            for code in codes:
                if code in REQUEST_LEVEL_CODES:
                    status = status_for(code)
                    break
            else:
                if request_error and sub.media == GRAPHQL_RESPONSE_JSON:
                    status = 400
        if status is not None:
            sub.status_code = status
        if NOT_FOUND in codes:
            # The client sends the document next; no cache may keep the miss.
            sub.headers["Cache-Control"] = _NO_STORE
        elif request.method == "GET":
            sub.headers["Vary"] = "Authorization, Accept"
            if not errors and self.settings.get_cache_max_age_s > 0:
                sub.headers["Cache-Control"] = (
                    f"public, max-age={self.settings.get_cache_max_age_s}"
                )

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        media = sub_response.media if isinstance(sub_response, _SubResponse) else APPLICATION_JSON
        status = sub_response.status_code or 200
        if isinstance(response_data, list):
            status = 200  # a batch mixes outcomes; each result carries its errors
        response = Response(
            self.encode_json(response_data),
            status_code=status,
            media_type=f"{media}; charset=utf-8",
        )
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(
            graphiql_html(endpoint=str(request.url.path), assets_url=self.assets_url),
            headers={"Content-Security-Policy": GRAPHIQL_CSP, "Cache-Control": "no-cache"},
        )

    def encode_json(self, data: Any) -> bytes:
        return dumps(data)

    # -- WebSocket -------------------------------------------------------------
    async def on_ws_connect(self, context: GraphQLContext) -> UnsetType | dict[str, object] | None:
        """Authenticate at ``connection_init`` (browsers cannot set WS headers).

        The token comes from the payload's ``Authorization`` (``Bearer ...``)
        or ``token``, else from the handshake's Authorization header. No valid
        token closes the socket with 4403.
        """
        params = getattr(context, "connection_params", None) or {}
        header: str | None = None
        for key in ("Authorization", "authorization"):
            value = params.get(key)
            if isinstance(value, str):
                header = value
        token = params.get("token")
        if header is None and isinstance(token, str):
            header = f"Bearer {token}"
        request = context.extra.get("request")
        if header is None and request is not None:
            header = request.headers.get("authorization")
        try:
            context.user_id = self.verifier.user_id(header)
        except Unauthenticated as exc:
            raise ConnectionRejectionError({"message": exc.message}) from exc
        if isinstance(request, WebSocket) and header is not None:
            self._close_at_expiry(request, header)
        unset: UnsetType = UNSET
        return unset

    def _close_at_expiry(self, websocket: WebSocket, header: str) -> None:
        """Close the connection (4403) when its token expires, as a new one would be refused."""
        token = header.partition(" ")[2].strip()
        # Already verified by user_id(); only the expiry is read here.
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
        if not isinstance(exp, int | float):
            return
        delay = exp + self.settings.jwt_leeway_s - time.time()

        async def close_later() -> None:
            await asyncio.sleep(max(0.0, delay))
            with contextlib.suppress(RuntimeError):
                await websocket.close(code=4403, reason="Token expired")

        websocket.scope.setdefault("state", {})[_EXPIRY_TASK] = asyncio.create_task(close_later())

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        finally:
            # A connection that ends before its token does must not leave a timer behind.
            task = request.scope.get("state", {}).pop(_EXPIRY_TASK, None)
            if task is not None:
                task.cancel()


# GraphiQL runs from our own assets: no CDN, no inline script. React sets
# inline styles, and the bundled fonts are data: URIs.
GRAPHIQL_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
