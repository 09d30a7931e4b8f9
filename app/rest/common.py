"""What every REST handler needs: the caller, the services, the body limit."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from app.auth import TokenVerifier
from app.client_ip import TrustedProxies
from app.rest.body import json_object
from resolvers.adapters.services import Services


def services(request: Request) -> Services:
    result: Services = request.app.state.services
    return result


def caller(request: Request) -> str:
    """The authenticated user id (401 via Unauthenticated otherwise)."""
    verifier: TokenVerifier = request.app.state.verifier
    return verifier.user_id(request.headers.get("authorization"))


async def body(request: Request) -> dict[str, Any]:
    limit: int = request.app.state.settings.max_json_body_bytes
    return await json_object(request, limit)


def client_ip(request: Request) -> str | None:
    """The client's address for per-IP rate limits (see ``app.client_ip``)."""
    proxies: TrustedProxies = request.app.state.proxies
    return proxies.for_connection(request)
