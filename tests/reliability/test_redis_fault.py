"""The rate limits' Redis (RATE_LIMIT_STORAGE_URI, a redis-server of the
test's own) stopped mid-load and started again on the same port, under a real
gateway process.

While it is down the rate-limited operations (fork, duplicate, import) fail
closed: 503 ``{"error": "Service unavailable"}``, nothing done. Every other
route answers as before. The process neither crashes nor drops a request, and
once Redis is back the limited operations succeed again. Afterwards the
store's invariants hold (tag counts, messages with their conversation).

``make test`` stops it once; ``--run-slow`` three times, with longer phases.
Run with ``-s`` to see the figures (docs/reliability.md quotes them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from storage.database import Database
from tests.utils.factories import auth, insert_conversation, insert_thread
from tests.utils.gateway import HIGH_LIMITS, gateway_process
from tests.utils.invariants import TAG_WITHOUT_DOCUMENT, survey_store
from tests.utils.load import (
    DEFAULT_MIX,
    EXPECTED_REFUSALS,
    FORK_MUTATION,
    TRANSPORT_ERROR,
    USERS,
    Load,
    seed_users,
)
from tests.utils.redis_server import RedisServer

UNAVAILABLE = {"error": "Service unavailable"}
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
CLIENTS, PHASE_S, CYCLES = 30, 3.0, 1
SLOW_CLIENTS, SLOW_PHASE_S, SLOW_CYCLES = 60, 10.0, 3
# The GraphQL fork spends the same budget, so it fails closed too (HTTP 503).
LIMITED = frozenset({"fork", "duplicate", "import", "graphql_fork"})
MIX = {**DEFAULT_MIX, "import": 3}
ANSWERED = frozenset({200, 201}) | EXPECTED_REFUSALS
# A user of the probes alone, so the load never deletes what they copy.
PROBE = "6b0a7813319bf155c7d4ffff"


@pytest.fixture
async def limits_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path / "redis.log")
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def wait_for(http: httpx.AsyncClient, cid: str, statuses: set[int]) -> httpx.Response:
    for _ in range(300):
        response = await http.post(
            "/api/convos/duplicate", json={"conversationId": cid}, headers=auth(PROBE)
        )
        if response.status_code in statuses:
            return response
        await asyncio.sleep(0.1)
    raise AssertionError(f"duplicate never answered {statuses}")


@pytest.mark.slow
async def test_stopped_rate_limit_redis_fails_limited_routes_closed_and_nothing_else(
    database: Database,
    mongo_uri: str,
    db_name: str,
    limits_redis: RedisServer,
    tmp_path: Path,
    run_slow: bool,
) -> None:
    clients, phase_s, cycles = (
        (SLOW_CLIENTS, SLOW_PHASE_S, SLOW_CYCLES) if run_slow else (CLIENTS, PHASE_S, CYCLES)
    )
    await seed_users(database, USERS)
    probe_doc = await insert_conversation(database, PROBE, title="probe")
    cid = probe_doc["conversationId"]
    (first, *_) = await insert_thread(database, PROBE, cid, ["q", "a"])
    env = {
        "MONGO_URI": mongo_uri,
        "MONGO_DB_NAME": db_name,
        "RATE_LIMIT_STORAGE_URI": limits_redis.uri,
        **HIGH_LIMITS,
    }
    down_probes: list[tuple[str, int, Any]] = []
    async with (
        gateway_process(env, tmp_path / "gateway.log") as gateway,
        httpx.AsyncClient(base_url=gateway.base_url, timeout=60.0) as probe,
    ):
        load = Load(gateway.base_url, USERS, MIX)
        stop = asyncio.Event()
        load.phase = "before"
        runner = asyncio.create_task(load.run(clients, stop))
        for cycle in range(cycles):
            await asyncio.sleep(phase_s)
            load.phase = f"stopping {cycle}"
            await asyncio.to_thread(limits_redis.stop)
            refused = await wait_for(probe, cid, {503})
            load.phase = "down"
            down_probes.append(("REST duplicate", refused.status_code, refused.json()))
            gql = await probe.post(
                "/graphql",
                json={"query": FORK_MUTATION, "variables": {"c": cid, "m": first["messageId"]}},
                headers=auth(PROBE),
            )
            down_probes.append(("GraphQL forkConversation", gql.status_code, gql.json()))
            await asyncio.sleep(phase_s)
            load.phase = f"restarting {cycle}"
            await asyncio.to_thread(limits_redis.start)
            await wait_for(probe, cid, {201})
            load.phase = "after"
        await asyncio.sleep(phase_s)
        stop.set()
        await runner
        alive = gateway.alive
        tracebacks = gateway.tracebacks()
        logged = gateway.warnings().most_common(8)

    survey = await survey_store(database, (*USERS, PROBE))
    print(f"\nredis fault: {clients} clients, {cycles} stop(s), {phase_s:.0f} s phases")
    for phase in sorted(load.figures):
        print(f" phase {phase}:\n{load.figures[phase].report()}")
    print(f" probes while down: {down_probes}")
    print(f" invariants checked: {survey.checked}; problems: {dict(survey.problems)}")
    print(f" gateway alive: {alive}; tracebacks in its log: {tracebacks}")
    print(f" its warnings and errors: {logged}")

    total = load.total()
    assert alive
    assert all(
        TRANSPORT_ERROR not in counts and 500 not in counts
        for counts in total.by_operation.values()
    ), total.samples
    assert load.figures["before"].unexpected(ANSWERED) == {}, load.figures["before"].samples
    # After the restart nothing fails: a stale pooled connection is retried
    # once on a fresh one (was gap G7).
    after = load.figures["after"]
    assert after.unexpected(ANSWERED) == {}, after.samples
    down = load.figures["down"]
    for op, counts in down.by_operation.items():
        if op in LIMITED:
            # Fail closed: refused, not let through unlimited.
            assert set(counts) == {503}, (op, counts, down.samples)
        else:
            # Nothing else depends on the limits' Redis.
            assert set(counts) <= ANSWERED, (op, counts, down.samples)
    assert down.by_operation.keys() & LIMITED, "no limited request while Redis was down"
    assert down_probes[0] == ("REST duplicate", 503, UNAVAILABLE)
    # The fork/duplicate race of test_load (a copy keeps a tag deleted meanwhile).
    assert survey.kinds() <= {TAG_WITHOUT_DOCUMENT}, survey.problems

    # Known gaps (docs/reliability.md); G1, G4 and G7 are fixed and checked above.
    gaps = [f"G1 race: {p}" for p in survey.problems[TAG_WITHOUT_DOCUMENT]]
    _, status, body = down_probes[1]
    codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors", [])}
    if codes != {SERVICE_UNAVAILABLE}:
        gaps.append(f"GraphQL fork with Redis down: HTTP {status}, codes {codes}")
    if down.graphql_codes.keys() - {SERVICE_UNAVAILABLE, "NOT_FOUND", "CONFLICT"}:
        gaps.append(f"GraphQL codes while Redis was down: {dict(down.graphql_codes)}")
    if tracebacks:
        gaps.append(f"{tracebacks} tracebacks logged for a Redis outage")
    if gaps:
        pytest.xfail("known gaps: " + " | ".join(gaps))
