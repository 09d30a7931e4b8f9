"""The built-in sample at the process edge: when ``serve`` loads it, and
``convos-gateway demo``. What the sample is: resolvers/demo."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from pymongo.errors import PyMongoError

from app.settings import Settings
from resolvers.adapters.services import Services
from resolvers.demo import SampleResult, load_on_first_run, reset_sample
from resolvers.operations.errors import UserError
from storage.database import connect
from storage.indexes import ensure_indexes

log = logging.getLogger("convos_gateway")


def first_run_sample_allowed(settings: Settings, *, embedded: bool) -> bool:
    """Only a development gateway on its own embedded database loads the sample.

    Never in production, and never into a MongoDB an operator named
    (``MONGO_URI``): that is someone's LibreChat data.
    """
    return settings.demo_data and not settings.production and embedded


def describe(result: SampleResult, user: str) -> str:
    return (
        f"{result.conversations} conversations ({result.messages} messages, "
        f"tags {', '.join(result.tags)}; {result.pinned} pinned, {result.archived} archived) "
        f"for user {user}"
    )


def _run(
    settings: Settings, operation: Callable[[Services], Awaitable[SampleResult | None]]
) -> SampleResult | None:
    async def run() -> SampleResult | None:
        assert settings.mongo_uri is not None
        database = connect(
            settings.mongo_uri,
            default_db=settings.mongo_db_name,
            timeout_ms=settings.mongo_timeout_ms,
        )
        try:
            await ensure_indexes(database)
            return await operation(Services(database=database))
        finally:
            await database.close()

    return asyncio.run(run())


def load_first_run_sample(settings: Settings, user: str) -> SampleResult | None:
    """Load the sample for ``user`` if this is their first run; log one line when it is."""
    result = _run(settings, lambda services: load_on_first_run(services, user))
    if result is not None:
        log.info(
            "first run: loaded the built-in sample, %s "
            "(DEMO_DATA=false turns this off; `convos-gateway demo --reset` reloads it)",
            describe(result, user),
        )
    return result


def load_sample_on_first_run(settings: Settings, user: str, *, embedded: bool) -> None:
    """``serve``'s first-run sample: loaded when allowed and the user is new.

    A sample that cannot be loaded is a warning, never a gateway that does
    not start.
    """
    if not first_run_sample_allowed(settings, embedded=embedded):
        return
    try:
        load_first_run_sample(settings, user)
    except (PyMongoError, UserError, RuntimeError) as exc:
        log.warning("first run: the built-in sample was not loaded: %s", exc)


def reload_sample(settings: Settings, user: str) -> SampleResult:
    """Delete ``user``'s conversations, messages and tags, then load the sample."""
    result = _run(settings, lambda services: reset_sample(services, user))
    assert result is not None
    return result
