"""At least 50 concurrent clients on loopback against a real gateway process,
five users racing on the same conversations and tags for a fixed time: no
5xx, no request unanswered, and afterwards, straight in MongoDB, every tag
count is the true count, positions are contiguous, and no message belongs to
an absent conversation.

``make test`` runs it for a few seconds; ``--run-slow`` for two minutes with
more clients. Run with ``-s`` to see the figures (docs/reliability.md quotes them).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from storage.database import Database
from tests.utils.gateway import HIGH_LIMITS, gateway_process
from tests.utils.invariants import TAG_WITHOUT_DOCUMENT, WRONG_COUNT, survey_store
from tests.utils.load import (
    DEFAULT_MIX,
    EXPECTED_GRAPHQL_CODES,
    EXPECTED_REFUSALS,
    USERS,
    Load,
    seed_users,
)

CLIENTS, LOAD_S = 50, 8.0
SLOW_CLIENTS, SLOW_LOAD_S = 100, 120.0


@pytest.mark.slow
async def test_mixed_load_keeps_tag_counts_and_messages_true_and_never_answers_5xx(
    database: Database, mongo_uri: str, db_name: str, run_slow: bool, tmp_path: Path
) -> None:
    seeded = await seed_users(database, USERS)
    clients, seconds = (SLOW_CLIENTS, SLOW_LOAD_S) if run_slow else (CLIENTS, LOAD_S)
    env = {"MONGO_URI": mongo_uri, "MONGO_DB_NAME": db_name, **HIGH_LIMITS}
    async with gateway_process(env, tmp_path / "gateway.log") as gateway:
        load = Load(gateway.base_url, USERS, DEFAULT_MIX)
        stop = asyncio.Event()
        runner = asyncio.create_task(load.run(clients, stop))
        await asyncio.sleep(seconds)
        stop.set()
        await runner
        alive = gateway.alive
        tracebacks = gateway.tracebacks()
        logged = gateway.warnings().most_common(8)

    figures = load.total()
    survey = await survey_store(database, USERS)
    print(
        f"\nload: {clients} clients, {len(USERS)} users, {seeded} seeded conversations, "
        f"{seconds:.0f} s\n{figures.report()}\n  invariants checked: {survey.checked}"
        f"\n  problems: {dict(survey.problems)}"
        f"\n  gateway alive after the load: {alive}; tracebacks in its log: {tracebacks}"
        f"\n  its warnings and errors: {logged}"
    )
    assert alive
    # Known gap G6 (docs/reliability.md): with many clients per user, GraphQL
    # mutations queued on the user's tag lock pass GRAPHQL_TIMEOUT_S (503
    # TIMEOUT) while REST ones wait unbounded. Any other 5xx fails.
    timeouts = figures.graphql_codes["TIMEOUT"]
    server_errors = figures.server_errors()
    graphql_503 = sum(server_errors.pop(op)[503] for op in list(server_errors) if "graphql" in op)
    assert server_errors == {}, figures.samples
    assert graphql_503 == timeouts, figures.samples
    assert figures.unexpected({200, 201, 503} | EXPECTED_REFUSALS) == {}, figures.samples
    assert set(figures.graphql_codes) <= EXPECTED_GRAPHQL_CODES | {"TIMEOUT"}
    assert figures.graphql_uncoded == []
    assert tracebacks == 0
    # Every client was answered, and writes of every kind went through.
    assert figures.requests >= clients
    for op in ("rename", "tag_set", "fork", "duplicate", "delete", "graphql_page"):
        assert figures.by_operation[op][200] + figures.by_operation[op][201] > 0, op
    # Known race G1 (docs/reliability.md): a fork or duplicate writes its copy,
    # tags included, outside the user's tag lock, so a tag deleted or renamed
    # meanwhile stays on the copy. Known gap G8: a mutation stopped by the
    # GraphQL timeout between its writes leaves a count short (only then).
    known = {TAG_WITHOUT_DOCUMENT} | ({WRONG_COUNT} if timeouts else set())
    assert survey.kinds() <= known, survey.problems
    gaps = [f"{kind}: {survey.problems[kind]}" for kind in sorted(survey.kinds())]
    if timeouts:
        gaps.append(f"G6: {timeouts} GraphQL TIMEOUTs under per-user contention")
    if gaps:
        pytest.xfail("known gaps: " + " | ".join(gaps))
