"""The GraphQL endpoint: Strawberry's ASGI view made production-ready.

(Just over 400 lines: the overrides of Strawberry's view are one class, and
each stays next to the others it must agree with.) This module wires the
parts together; each lives in its own module and is
bounded by a setting (app/settings.py):

- GraphQL over HTTP semantics (app/graphql/http_semantics.py);
- persisted queries (app/graphql/persisted_queries.py), on POST and GET;
- a request body cap (413) and an execution timeout (503, code TIMEOUT);
- WebSocket subscriptions over graphql-transport-ws only, authenticated at
  ``connection_init`` with the same JWT (app/graphql/websocket.py);
- GraphiQL from vendored assets (app/graphql/graphiql.py);
- uploads, admitted as imports before their body is read
  (app/graphql/uploads.py).

The normal path (a POST with a document) costs one dict lookup more than
Strawberry's own view: limits are validation rules cached with the document
(app/graphql/schema.py), and no extension wraps resolvers.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import strawberry
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from app.auth import TokenVerifier
from app.client_ip import TrustedProxies
from app.deadlines import database_deadline
from app.graphql.graphiql import graphiql_response
from app.graphql.http_semantics import (
    APPLICATION_JSON,
    Rejected,
    SubResponse,
    error_response,
    is_request_error,
    negotiate,
    refusal,
    set_status,
    timeout_error,
)
from app.graphql.persisted_queries import PersistedQueries, PersistedQueryError
from app.graphql.timeouts import finish_or_cancel, may_be_mutation
from app.graphql.uploads import (
    SpoolingRequestAdapter,
    UploadRequest,
    admit_upload,
    admitted_upload,
    place_files,
)
from app.graphql.websocket import (
    ConnectionsPerUser,
    TextWebSocketAdapter,
    TransportWSHandler,
    authorization_header,
    cancel_expiry,
    close_at_expiry,
)
from app.http_errors import BAD_REQUEST
from app.jsonutil import JSONInputError, dumps, loads_guarded
from app.request_body import read_limited
from app.settings import Settings
from app.uploads import import_limits, is_multipart
from resolvers.adapters.services import Services
from resolvers.exporting.links import ExportLinks
from resolvers.graphql.context import GraphQLContext
from resolvers.operations.errors import PayloadTooLarge, Unauthenticated, UserError

log = logging.getLogger("convos_gateway.graphql")

_SUB_RESPONSE = "graphql_sub_response"


@dataclass
class GatewayContext(GraphQLContext):
    """The context, with the graphql-transport-ws ``connection_init`` payload."""

    connection_params: dict[str, Any] | None = None


class GraphQLApp(GraphQL[GraphQLContext, None]):
    """Strawberry's ASGI view with the gateway's auth, limits and HTTP semantics."""

    websocket_adapter_class = TextWebSocketAdapter
    graphql_transport_ws_handler_class = TransportWSHandler
    request_adapter_class = SpoolingRequestAdapter

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
        graphiql_token: str | None = None,
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
        # Never in production, whoever passes one: the page is public there.
        self.graphiql_token = None if settings.production else graphiql_token
        self.ws_connections = ConnectionsPerUser(settings.ws_max_connections_per_user)

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
        except (Rejected, HTTPException) as exc:
            response = self._rejection(request, exc)
        await response(scope, receive, send)

    async def _upload(self, request: Request, receive: Receive, send: Send) -> None:
        """A multipart request: refused, or admitted as an import and then run."""
        upload = await admit_upload(
            request,
            verifier=self.verifier,
            services=self.services,
            proxies=self.proxies,
            limits=self.upload_limits,
            directory=self.settings.import_temp_dir,
        )
        if not isinstance(upload, UploadRequest):
            await upload(request.scope, receive, send)
            return
        try:
            response = await self.run(request)
        except UserError as exc:
            # Raised while spooling, before any response started.
            response = refusal(exc)
        except (Rejected, HTTPException) as exc:
            response = self._rejection(request, exc)
        finally:
            upload.discard()
        await response(request.scope, receive, send)

    def _rejection(self, request: Request, exc: Rejected | HTTPException) -> Response:
        if isinstance(exc, Rejected):
            return self._error_response(request, exc.status, exc.message, exc.headers, exc.code)
        return self._error_response(request, exc.status_code, exc.reason)

    def _error_response(
        self,
        request: Request,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> Response:
        return error_response(request.headers.get("accept"), status, message, headers, code=code)

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

    def _execution_context(self, query: str | None, name: str | None) -> contextvars.Context:
        """The request's context, with its database deadline unless it may mutate."""
        seconds = 0.0 if may_be_mutation(query, name) else self.settings.graphql_timeout_s
        client = self.services.database.client
        with database_deadline(seconds, client.topology_description.has_readable_server):
            return contextvars.copy_context()

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub = SubResponse()
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
        upload = admitted_upload(request)
        context = GatewayContext(
            services=self.services,
            user_id=user,
            auth_error=reason or "No auth token",
            deadline_s=self.settings.graphql_timeout_s,
            # The same client address REST uses, so per-IP limits are shared.
            extra={
                "request": request,
                "client_ip": self.proxies.for_connection(request),
                "import_admissions": upload.admissions if upload is not None else [],
                "import_max_uncompressed_bytes": self.settings.import_max_uncompressed_bytes,
                "export_links": ExportLinks(
                    self.settings.jwt_secret, self.settings.export_link_ttl_s
                ),
            },
        )
        return context

    def decode_json(self, data: str | bytes) -> object:
        # Every transport's JSON comes through here: the body, GET's
        # variables and extensions, WebSocket messages (a JSONInputError is a
        # JSONDecodeError, so Strawberry closes the socket with 4400).
        return loads_guarded(data, max_bytes=self.settings.max_body_bytes)

    def parse_json(self, data: str | bytes, *, max_bytes: int | None = None) -> Any:
        try:
            return loads_guarded(data, max_bytes=max_bytes or self.settings.max_body_bytes)
        except JSONInputError as exc:
            raise Rejected(400, exc.message, code=BAD_REQUEST) from None

    async def parse_multipart(self, request: Any) -> Any:
        try:
            form = await request.get_form_data()
        except ValueError as exc:
            raise HTTPException(400, "Unable to parse the multipart body") from exc
        # The text parts were already capped while spooling (upload limits).
        max_bytes = self.upload_limits.max_field_bytes
        operations = self.parse_json(form.form.get("operations", "{}"), max_bytes=max_bytes)
        files_map = self.parse_json(form.form.get("map", "{}"), max_bytes=max_bytes)
        return place_files(operations, files_map, form.files)

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
        execution = asyncio.get_running_loop().create_task(
            self.schema.execute(
                resolved.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            ),
            # The request's deadline reaches MongoDB as maxTimeMS for queries; a
            # mutation gets none, so a timed-out one can finish (finish_or_cancel).
            context=self._execution_context(resolved.query, request_data.operation_name),
        )
        try:
            # Shielded: the timeout answers the client, it does not decide
            # whether the work stops (below).
            result = await asyncio.wait_for(
                asyncio.shield(execution), self.settings.graphql_timeout_s
            )
        except TimeoutError:
            log.warning("GraphQL operation %r timed out", request_data.operation_name)
            await finish_or_cancel(execution, resolved.query, request_data.operation_name)
            return ExecutionResult(
                data=None, errors=[timeout_error(self.settings.graphql_timeout_s)]
            )
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.SUBSCRIPTION:
                raise Rejected(
                    400,
                    "Subscriptions are served over WebSocket (graphql-transport-ws) at this URL",
                ) from exc
            raise Rejected(405, exc.as_http_error_reason(method), {"Allow": "POST"}) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request") from exc
        except asyncio.CancelledError:
            # The client went away: the operation's reads stop with it.
            execution.cancel()
            raise
        if resolved.register_as is not None and not is_request_error(result):
            await self.persisted.register(resolved)
        return result

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        errors = result.errors or []
        response: GraphQLHTTPResponse = {}
        if not is_request_error(result):
            response["data"] = result.data
        if errors:
            response["errors"] = [e.formatted for e in errors]
        if result.extensions:
            response["extensions"] = result.extensions

        sub = request.scope.get("state", {}).get(_SUB_RESPONSE)
        if isinstance(sub, SubResponse):
            set_status(
                sub,
                result,
                method=request.method,
                get_cache_max_age_s=self.settings.get_cache_max_age_s,
            )
        return response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        media = sub_response.media if isinstance(sub_response, SubResponse) else APPLICATION_JSON
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
        return graphiql_response(request, assets_url=self.assets_url, token=self.graphiql_token)

    def encode_json(self, data: Any) -> bytes:
        return dumps(data)

    # -- WebSocket -------------------------------------------------------------
    async def on_ws_connect(self, context: GraphQLContext) -> UnsetType | dict[str, object] | None:
        """Authenticate at ``connection_init`` and count the connection against its user.

        No valid token closes the socket with 4403; a user over
        ``GRAPHQL_WS_MAX_CONNECTIONS_PER_USER`` open connections, with 4429.
        """
        params = getattr(context, "connection_params", None) or {}
        request = context.extra.get("request")
        header = authorization_header(params, request)
        try:
            context.user_id = self.verifier.user_id(header)
        except Unauthenticated as exc:
            raise ConnectionRejectionError({"message": exc.message}) from exc
        if isinstance(request, WebSocket):
            self.ws_connections.acquire(request, context.user_id)
            if header is not None:
                close_at_expiry(request, header, self.settings.jwt_leeway_s)
        unset: UnsetType = UNSET
        return unset

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        finally:
            cancel_expiry(request.scope)
            self.ws_connections.release(request.scope)
