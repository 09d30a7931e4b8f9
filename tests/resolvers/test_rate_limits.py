"""The RateLimiter itself: budgets per action, per IP and per user, the import
seam the import operation calls, and the storage URIs it accepts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from app.http_errors import body_for
from resolvers.adapters.rate_limiter import ActionLimits, Budget, RateLimiter, async_storage_uri
from resolvers.operations.admission import enforce
from resolvers.operations.errors import RateLimited

IMPORT_LIMITED = "Too many conversation import requests. Try again later"
LIMITS = {
    "import": ActionLimits(per_ip=Budget(3, 15), per_user=Budget(2, 15)),
    "fork": ActionLimits(per_ip=Budget(30, 1), per_user=Budget(1, 1)),
}


@pytest.fixture(params=["memory://", "redis://127.0.0.1:6379/0"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    instance = RateLimiter.create(request.param, LIMITS, key_prefix=prefix)
    try:
        yield instance
    finally:
        await instance.close()
        if request.param.startswith("redis"):
            client = redis.asyncio.Redis.from_url(request.param)
            keys = [key async for key in client.scan_iter(match=f"LIMITS:{prefix}:*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()


async def test_import_has_its_own_budget_and_message(limiter: RateLimiter) -> None:
    await limiter.check("import", "192.0.2.1", "u1")
    await limiter.check("import", "192.0.2.1", "u1")
    with pytest.raises(RateLimited) as refused:
        await limiter.check("import", "192.0.2.1", "u1")
    assert refused.value.message == IMPORT_LIMITED
    assert body_for(refused.value.code, refused.value.message) == {"message": IMPORT_LIMITED}
    # A 15-minute window: the wait is at most that long.
    assert 1 <= refused.value.retry_after_s <= 15 * 60
    # The fork budget is untouched by imports.
    await limiter.check("fork", "192.0.2.1", "u1")


async def test_ip_budget_counts_every_user_of_the_address(limiter: RateLimiter) -> None:
    await limiter.check("import", "192.0.2.1", "u1")
    await limiter.check("import", "192.0.2.1", "u2")
    await limiter.check("import", "192.0.2.1", "u3")
    with pytest.raises(RateLimited):
        await limiter.check("import", "192.0.2.1", "u4")
    await limiter.check("import", "192.0.2.2", "u4")


async def test_a_refused_request_consumes_neither_budget(limiter: RateLimiter) -> None:
    await limiter.check("import", "192.0.2.1", "u1")
    await limiter.check("import", "192.0.2.1", "u1")
    for _ in range(5):
        with pytest.raises(RateLimited):
            await limiter.check("import", "192.0.2.1", "u1")
    # Only two of the IP's three slots were taken.
    await limiter.check("import", "192.0.2.1", "u2")


async def test_clear_forgets_both_budgets(limiter: RateLimiter) -> None:
    await limiter.check("fork", "192.0.2.1", "u1")
    with pytest.raises(RateLimited):
        await limiter.check("fork", "192.0.2.1", "u1")
    await limiter.clear("fork", "192.0.2.1", "u1")
    await limiter.check("fork", "192.0.2.1", "u1")


async def test_unknown_client_address_shares_one_key(limiter: RateLimiter) -> None:
    for user in ("u1", "u2", "u3"):
        await limiter.check("import", None, user)
    with pytest.raises(RateLimited):
        await limiter.check("import", None, "u4")


async def test_enforce_uses_the_limiter_and_is_a_no_op_without_one() -> None:
    for _ in range(5):
        await enforce(None, "import", user="u1", client_ip="192.0.2.1")
    limiter = RateLimiter.create("memory://", LIMITS)
    await enforce(limiter, "import", user="u1", client_ip="192.0.2.1")
    await enforce(limiter, "import", user="u1", client_ip="192.0.2.1")
    with pytest.raises(RateLimited):
        await enforce(limiter, "import", user="u1", client_ip="192.0.2.1")


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("memory://", "async+memory://"),
        ("redis://127.0.0.1:6379/0", "async+redis://127.0.0.1:6379/0"),
        ("rediss://:pw@cache:6380", "async+rediss://:pw@cache:6380"),
        ("redis+unix:///run/redis.sock", "async+redis+unix:///run/redis.sock"),
        ("async+redis://h:1", "async+redis://h:1"),
        ("REDIS://h:1", "async+redis://h:1"),
    ],
)
def test_plain_storage_uris_map_to_async_schemes(given: str, used: str) -> None:
    assert async_storage_uri(given) == used


@pytest.mark.parametrize(
    "uri", ["mongodb://localhost", "async+mongodb://localhost", "memcached://h", "redis"]
)
def test_other_storages_are_refused(uri: str) -> None:
    with pytest.raises(ValueError, match="RATE_LIMIT_STORAGE_URI"):
        async_storage_uri(uri)
