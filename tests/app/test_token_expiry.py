"""A token must carry a numeric ``exp``, at every edge (issue 9: token lifetime).

Without one a token never expired, and a numeric string was accepted and
skipped both the verified-token cache's expiry and the WebSocket timer.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from app.auth import BAD_EXP, NO_EXP, TokenVerifier
from app.main import create_app
from app.settings import Settings
from resolvers.operations.errors import Unauthenticated
from storage.database import Database
from tests.utils.factories import ALICE, JWT_SECRET, insert_conversation, snapshot
from tests.utils.http import error_codes
from tests.utils.servers import running
from tests.utils.ws import graphql_ws

LATER = int(time.time()) + 3600
# exp values a token may not carry, and the reason each is refused with.
REFUSED: list[tuple[dict[str, Any], str]] = [
    ({}, NO_EXP),
    ({"exp": str(LATER)}, BAD_EXP),
    ({"exp": "tomorrow"}, BAD_EXP),
    ({"exp": True}, BAD_EXP),
    ({"exp": None}, BAD_EXP),
    ({"exp": float("inf")}, BAD_EXP),
    ({"exp": 10**400}, BAD_EXP),
]
IDS = ["missing", "numeric-string", "string", "boolean", "null", "infinity", "huge-int"]


def _token(**claims: Any) -> str:
    return jwt.encode({"id": ALICE, "iat": int(time.time()), **claims}, JWT_SECRET, "HS256")


@pytest.mark.parametrize(("claims", "reason"), REFUSED, ids=IDS)
async def test_rest_refuses_a_token_without_a_numeric_exp_and_changes_nothing(
    client: httpx.AsyncClient, database: Database, claims: dict[str, Any], reason: str
) -> None:
    doc = await insert_conversation(database, ALICE, title="kept")
    before = await snapshot(database)
    response = await client.post(
        "/api/convos/update",
        json={"arg": {"conversationId": doc["conversationId"], "title": "renamed"}},
        headers={"Authorization": f"Bearer {_token(**claims)}"},
    )
    assert response.status_code == 401
    assert response.json() == {"message": reason}
    assert await snapshot(database) == before


@pytest.mark.parametrize(("claims", "reason"), REFUSED[:2], ids=IDS[:2])
async def test_graphql_http_refuses_a_token_without_a_numeric_exp(
    client: httpx.AsyncClient, claims: dict[str, Any], reason: str
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ conversations(first: 1) { totalCount } }"},
        headers={"Authorization": f"Bearer {_token(**claims)}"},
    )
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]
    assert reason in response.text


@pytest.mark.parametrize(("claims", "reason"), REFUSED[:2], ids=IDS[:2])
async def test_websocket_connection_init_refuses_a_token_without_a_numeric_exp(
    settings: Settings, database: Database, claims: dict[str, Any], reason: str
) -> None:
    app = create_app(settings, database=database)
    async with running(app) as base, graphql_ws(base) as ws:
        await ws.send(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {_token(**claims)}"}}
        )
        assert await ws.closed() == (4403, "Forbidden")


@pytest.mark.parametrize("exp", [LATER, LATER + 0.5], ids=["int", "float"])
def test_integer_and_fractional_exp_are_accepted(exp: float) -> None:
    verifier = TokenVerifier(JWT_SECRET)
    assert verifier.user_id(f"Bearer {_token(exp=exp)}") == ALICE


def test_a_past_exp_is_expired_beyond_the_leeway_only() -> None:
    now = int(time.time())
    verifier = TokenVerifier(JWT_SECRET, leeway_s=30)
    assert verifier.user_id(f"Bearer {_token(exp=now - 10)}") == ALICE
    with pytest.raises(Unauthenticated, match="jwt expired"):
        verifier.user_id(f"Bearer {_token(exp=now - 60)}")
