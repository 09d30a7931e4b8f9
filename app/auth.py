"""JWT authentication exactly as LibreChat issues tokens (HS256, user id in ``id``).

Error messages are the ones LibreChat v0.8.8 sends (``{"message": reason}``).
A token must carry a numeric ``exp`` (LibreChat always issues one): without
it a stolen token would never expire, and a numeric string would skip both
the verified-token cache's expiry and the WebSocket's expiry timer.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from typing import Any, Final

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from app.request_context import noting_user
from resolvers.operations.errors import Unauthenticated

ALGORITHM: Final = "HS256"  # pinned: never taken from the token's header
NO_TOKEN = "No auth token"
# jsonwebtoken's (LibreChat's) wording for an exp that is not a number.
BAD_EXP = "invalid exp value"
NO_EXP = "jwt expiration required"
# Verified tokens are remembered (until they expire) so a keep-alive client
# does not pay for an HMAC and a JSON parse on every request. Bounded.
_CACHE_SIZE = 4096
# RFC 7518 asks for HS256 keys of at least 32 bytes.
MIN_SECRET_BYTES = 32

log = logging.getLogger(__name__)


def _accept_secret(secret: str) -> None:
    """Accept LibreChat's secret whatever its length, warning once instead of per call.

    The gateway must verify the tokens LibreChat already issues; refusing a
    short secret would lock its users out, so it is logged, not rejected.
    """
    if len(secret.encode()) < MIN_SECRET_BYTES:
        log.warning("JWT_SECRET is shorter than %d bytes; use a longer one", MIN_SECRET_BYTES)
    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)


def _reason(exc: jwt.InvalidTokenError) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "jwt expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "jwt not active"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "invalid signature"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "invalid algorithm"
    if isinstance(exc, jwt.DecodeError):
        return "jwt malformed"
    return "invalid token"


def _expiry(claims: dict[str, Any]) -> float:
    """The token's ``exp``: required, a JSON number (not a string, not a boolean)."""
    if "exp" not in claims:
        raise Unauthenticated(NO_EXP)
    exp = claims["exp"]
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise Unauthenticated(BAD_EXP)
    try:
        expires = float(exp)
    except OverflowError:  # an int past float's range
        raise Unauthenticated(BAD_EXP) from None
    if not math.isfinite(expires):  # Python's JSON reads Infinity and NaN
        raise Unauthenticated(BAD_EXP)
    return expires


class TokenVerifier:
    """Turns an ``Authorization`` header into the caller's user id."""

    def __init__(self, secret: str, *, leeway_s: int = 30) -> None:
        if not secret:
            raise ValueError("a JWT secret is required")
        _accept_secret(secret)
        self._secret = secret
        self._leeway = leeway_s
        self._cache: dict[str, tuple[str, float]] = {}

    @noting_user
    def user_id(self, authorization: str | None) -> str:
        """The ``id`` claim of a valid bearer token.

        Raises:
            Unauthenticated: no token, or an invalid one (reason in the message).
        """
        if not authorization:
            raise Unauthenticated(NO_TOKEN)
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated(NO_TOKEN)
        cached = self._cache.get(token)
        if cached is not None:
            user, expires = cached
            if time.time() < expires + self._leeway:
                return user
            del self._cache[token]
        return self._verify(token)

    def _verify(self, token: str) -> str:
        try:
            # exp is checked below: PyJWT would accept "123" (it calls int()).
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                leeway=self._leeway,
                options={"verify_exp": False},
            )
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(_reason(exc)) from exc
        expires = _expiry(claims)
        if time.time() >= expires + self._leeway:
            raise Unauthenticated("jwt expired")
        user = claims.get("id")
        if not isinstance(user, str) or not user or len(user) > 200:
            raise Unauthenticated("invalid token")
        if len(self._cache) >= _CACHE_SIZE:
            del self._cache[next(iter(self._cache))]
        self._cache[token] = (user, expires)
        return user


def issue_token(secret: str, user_id: str, ttl_s: int, **claims: Any) -> str:
    """A token shaped like LibreChat's: ``id``, ``iat``, ``exp``."""
    _accept_secret(secret)
    now = int(time.time())
    payload = {"id": user_id, "iat": now, "exp": now + ttl_s, **claims}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)
