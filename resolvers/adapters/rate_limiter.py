"""Rate limits on costly operations, shared by every edge (REST and GraphQL).

The limited operations take an admission (``resolvers.operations.admission``) that only
this limiter hands out, so no edge can skip it: a GraphQL mutation spends the
same budget as the REST route.

Each action has two budgets, LibreChat's: one per client IP and one per user.
Fork and duplicate are the same action (``"fork"``), so they share one budget,
as in current LibreChat.

Strategy: **moving window** (``limits``' ``MovingWindowRateLimiter``), not
LibreChat's fixed window. A fixed window lets a client spend its budget at the
end of one window and again at the start of the next: up to twice the limit in
a few seconds (14 forks instead of 7, 200 imports of up to 250 MB instead of
100). The moving window never admits more than the limit in any span of the
window's length. Its cost is one timestamp per admitted request per key (at
most the limit, so at most 100 entries), kept in a Redis list by one atomic
Lua script, or in a list in memory. ``Retry-After`` is exact: the time until
the oldest counted request leaves the window.

Hit counting: a request is counted against **both** budgets only when
**both** admit it; a request refused by either consumes neither. Refused
requests therefore cannot keep a client locked out (with a moving window,
counting them would let a client that keeps retrying never get through), and
a user over their own budget does not eat the budget of others behind the same
IP. The budgets are tested first, then taken; taking is atomic per key, so the
limits are never exceeded. The one leak: when two requests race for a user's
last slot, the loser may already have taken a slot of the IP budget.

Every admitted request counts, whether it then succeeds or fails validation,
as in LibreChat (its limiters run before the handler); this also bounds
probing for other users' conversation ids (404 vs 403).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from resolvers.operations.errors import RateLimited

log = logging.getLogger(__name__)

Action = Literal["fork", "import", "export"]

MESSAGES: dict[Action, str] = {
    "fork": "Too many conversation fork requests. Try again later",
    "import": "Too many conversation import requests. Try again later",
    "export": "Too many conversation export requests. Try again later",
}

# Redis socket timeouts: a hung Redis must fail the request quickly (503),
# not hold it for the kernel's TCP timeout.
REDIS_TIMEOUT_S = 2.0
# The key used when the edge knows no client address (e.g. a Unix socket).
UNKNOWN_IP = "unknown"


class RateLimitUnavailable(Exception):
    """The counters' storage (Redis) cannot be reached.

    Not a :class:`~resolvers.operations.errors.UserError`: the REST edge answers 503 and
    GraphQL masks it. Requests are refused rather than let through unlimited
    (fail closed): the limits guard costly work, and Redis recovers by itself.
    """


@dataclass(frozen=True)
class Budget:
    """``amount`` requests per ``window_min`` minutes."""

    amount: int
    window_min: int

    def item(self, namespace: str) -> RateLimitItem:
        return RateLimitItemPerMinute(self.amount, self.window_min, namespace=namespace)


@dataclass(frozen=True)
class ActionLimits:
    """The two budgets of one action."""

    per_ip: Budget
    per_user: Budget


_ASYNC_SCHEMES = {
    "memory": "async+memory",
    "redis": "async+redis",
    "rediss": "async+rediss",
    "redis+unix": "async+redis+unix",
}


def async_storage_uri(uri: str) -> str:
    """Map ``memory://`` / ``redis://`` (what operators write) to ``limits``' async schemes.

    Only memory and Redis are accepted: ``limits``' MongoDB storage pulls in
    motor, which this project never uses.

    Raises:
        ValueError: another scheme.
    """
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise ValueError(
            f"RATE_LIMIT_STORAGE_URI must look like memory:// or redis://host, got {uri!r}"
        )
    scheme = scheme.lower()
    if scheme in _ASYNC_SCHEMES.values():
        return f"{scheme}://{rest}"
    if scheme in _ASYNC_SCHEMES:
        return f"{_ASYNC_SCHEMES[scheme]}://{rest}"
    raise ValueError(
        f"RATE_LIMIT_STORAGE_URI must use memory:// or redis:// (or rediss://), got {scheme}://"
    )


class RateLimiter:
    """Per-IP and per-user moving-window budgets for each :data:`Action`."""

    def __init__(
        self,
        storage: Storage,
        limits: Mapping[Action, ActionLimits],
        *,
        key_prefix: str = "convos-gateway",
        close: Callable[[], Awaitable[None]] | None = None,
        on_refused: Callable[[Action], None] | None = None,
    ) -> None:
        self._strategy = MovingWindowRateLimiter(storage)
        self._limits = dict(limits)
        self._prefix = key_prefix
        self._close = close
        # Told of every refusal (the app counts them in its metrics); resolvers
        # know nothing of the app, so it is handed in.
        self._on_refused = on_refused

    @classmethod
    def create(
        cls,
        storage_uri: str,
        limits: Mapping[Action, ActionLimits],
        *,
        key_prefix: str = "convos-gateway",
        on_refused: Callable[[Action], None] | None = None,
    ) -> RateLimiter:
        """A limiter on ``memory://`` or ``redis://...`` counters.

        Several processes pointed at one Redis share every budget; keys start
        with ``key_prefix`` so deployments (or tests) sharing a Redis stay apart.
        ``on_refused`` is called with the action of each refused request.

        Raises:
            ValueError: an unsupported storage URI.
        """
        uri = async_storage_uri(storage_uri)
        if uri.startswith("async+memory"):
            return cls(
                storage_from_string(uri),  # type: ignore[arg-type]
                limits,
                key_prefix=key_prefix,
                on_refused=on_refused,
            )
        # Our own pool (redis-py, installed anyway) so that shutdown can close
        # its connections; limits' default client library (coredis) is not used.
        import redis.asyncio

        from resolvers.adapters.redis_retry import stale_connection_retry

        pool: redis.asyncio.ConnectionPool = redis.asyncio.ConnectionPool.from_url(
            uri.removeprefix("async+").replace("redis+unix://", "unix://"),
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            **stale_connection_retry(),
        )
        storage = storage_from_string(
            uri,
            implementation="redispy",
            wrap_exceptions=True,
            connection_pool=pool,  # type: ignore[arg-type]
        )
        return cls(
            storage,  # type: ignore[arg-type]
            limits,
            key_prefix=key_prefix,
            close=pool.aclose,
            on_refused=on_refused,
        )

    async def close(self) -> None:
        """Release the storage's connections (the app's shutdown calls it)."""
        if self._close is not None:
            await self._close()

    def _keys(self, action: Action, ip: str | None, user: str) -> list[tuple[RateLimitItem, str]]:
        limits = self._limits[action]
        return [
            (limits.per_ip.item(f"{self._prefix}:{action}:ip"), ip or UNKNOWN_IP),
            (limits.per_user.item(f"{self._prefix}:{action}:user"), user),
        ]

    async def check(self, action: Action, ip: str | None, user: str) -> None:
        """Count one request of ``action`` from ``ip`` by ``user``, or refuse it.

        Raises:
            RateLimited: either budget is spent; ``retry_after_s`` says when
                both admit a request again. Nothing is counted.
            RateLimitUnavailable: the counters' storage cannot be reached.
        """
        keys = self._keys(action, ip, user)
        try:
            refused = [
                (item, key) for item, key in keys if not await self._strategy.test(item, key)
            ]
            if not refused:
                for item, key in keys:
                    if not await self._strategy.hit(item, key):
                        # Lost a race for the last slot; see the module docstring.
                        refused.append((item, key))
                        break
            if refused:
                if self._on_refused is not None:
                    self._on_refused(action)
                raise RateLimited(MESSAGES[action], await self._retry_after(refused))
        except StorageError as exc:
            log.warning("rate limit storage unavailable: %s", exc.storage_error)
            raise RateLimitUnavailable(str(exc.storage_error)) from exc

    async def _retry_after(self, refused: list[tuple[RateLimitItem, str]]) -> int:
        """Whole seconds until every refusing budget admits one more request."""
        now = time.time()
        wait = 1.0
        for item, key in refused:
            stats = await self._strategy.get_window_stats(item, key)
            wait = max(wait, stats.reset_time - now)
        return max(1, math.ceil(wait))

    async def clear(self, action: Action, ip: str | None, user: str) -> None:
        """Forget both budgets' counts (operators' and tests' reset)."""
        for item, key in self._keys(action, ip, user):
            await self._strategy.clear(item, key)
