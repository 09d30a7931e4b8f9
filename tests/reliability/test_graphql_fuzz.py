"""Queries and mutations generated from ``schema.graphql`` (hypothesis-graphql),
valid ones and ones with one schema violation, sent with a valid token to the
real ASGI app over seeded data: none answers 5xx, none fails with an internal
error (code ``INTERNAL_SERVER_ERROR`` or the masked "Internal server error").

String arguments are drawn from the seeded ids (so mutations hit real
conversations, messages, tags and another user's conversation) and from
hostile text (regex specials, long runs, control characters, lone
surrogates are excluded: JSON cannot carry them).

``make test`` runs 100 operations; ``--run-slow`` 2,000.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

import graphql
import httpx
import hypothesis_graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.main import create_app
from storage.database import Database, connect
from storage.indexes import ensure_indexes
from tests.conftest import make_settings
from tests.utils.factories import ALICE, BOB, auth, conversation_doc, message_doc

SCHEMA = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text()
EXAMPLES, SLOW_EXAMPLES = 100, 2000
INTERNAL = "INTERNAL_SERVER_ERROR"
MASKED = "Internal server error"

# Fixed ids, so the generated strings can name them and a reseed restores them.
CONVERSATIONS = {
    ALICE: ["c0ffee00-0000-4000-8000-000000000001", "c0ffee00-0000-4000-8000-000000000002"],
    BOB: ["c0ffee00-0000-4000-8000-0000000000b0"],
}
MESSAGES = {
    cid: [f"{cid[:-4]}{n:02d}{cid[-2:]}" for n in range(3)]
    for ids in CONVERSATIONS.values()
    for cid in ids
}
TAGS = ["work", "a b/c"]


EXCLUDED = {
    # Uploads travel as multipart, not in a JSON document.
    "importConversations",
    # Waits up to 0.8 x GRAPHQL_TIMEOUT_S for a title that will not come (its
    # answer, NOT_FOUND, is proved in test_generate_title_timeout.py): it
    # would only make the run slow.
    "generateTitle",
}


def _root_fields() -> list[str]:
    schema = graphql.build_schema(SCHEMA)
    roots = (schema.query_type, schema.mutation_type)
    return [name for root in roots if root is not None for name in root.fields]


SEEDED = [
    *(cid for cids in CONVERSATIONS.values() for cid in cids),
    *(mid for mids in MESSAGES.values() for mid in mids),
    *TAGS,
    *["", " ", "$where", "{}", "null"],
]
seeded_strings = st.sampled_from(SEEDED)
hostile_strings = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=".*+?()[]{}|^$\\", min_size=1, max_size=600),
    st.builds(
        lambda c, n: c * n,
        st.sampled_from(["a", "(", "\u00e9", "\U0001f600"]),
        st.integers(1, 3000),
    ),
).filter(lambda s: not any("\ud800" <= ch <= "\udfff" for ch in s))
strings = st.one_of(seeded_strings, seeded_strings, hostile_strings).map(
    lambda v: graphql.StringValueNode(value=v)
)
json_values = st.one_of(
    st.just(graphql.NullValueNode()),
    st.integers(-(2**40), 2**40).map(lambda n: graphql.IntValueNode(value=str(n))),
    strings,
)
operations = st.one_of(
    *(
        hypothesis_graphql.from_schema(
            SCHEMA,
            fields=[f for f in _root_fields() if f not in EXCLUDED],
            custom_scalars={
                "String": strings,
                "DateTime": st.sampled_from(
                    ["2024-01-15T10:00:00.000Z", "not a date", "9999-99-99T99:99:99Z"]
                ).map(lambda v: graphql.StringValueNode(value=v)),
                "JSON": json_values,
                "Upload": st.just(graphql.NullValueNode()),
            },
            mode=mode,
        )
        for mode in (hypothesis_graphql.Mode.POSITIVE, hypothesis_graphql.Mode.NEGATIVE)
    )
)


@contextlib.asynccontextmanager
async def _app_client(mongo_uri: str) -> Any:
    database = connect(mongo_uri, db_name="fuzz_graphql", timeout_ms=5000)
    await ensure_indexes(database)
    # Fork budgets out of the way, so forks run instead of answering RATE_LIMITED.
    settings = make_settings(mongo_uri, fork_ip_max=10**6, fork_user_max=10**6)
    application = create_app(settings, database=database)
    try:
        async with (
            application.router.lifespan_context(application),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application), base_url="http://testserver"
            ) as client,
        ):
            yield database, client
    finally:
        await database.client.drop_database("fuzz_graphql")
        await database.close()


async def _reseed(database: Database, client: httpx.AsyncClient) -> None:
    """Put the seeded conversations back when a generated mutation deleted them."""
    ids = [cid for cids in CONVERSATIONS.values() for cid in cids]
    if await database.conversations.count_documents({"conversationId": {"$in": ids}}) == len(ids):
        return
    await database.conversations.delete_many({"conversationId": {"$in": ids}})
    await database.messages.delete_many({"conversationId": {"$in": ids}})
    for user, cids in CONVERSATIONS.items():
        for cid in cids:
            await database.conversations.insert_one(conversation_doc(user, conversationId=cid))
            parent = "00000000-0000-0000-0000-000000000000"
            for mid in MESSAGES[cid]:
                await database.messages.insert_one(
                    message_doc(user, cid, parent=parent, messageId=mid, text=f"text {mid}")
                )
                parent = mid
            # Through the app, so the tags' counts stay true.
            response = await client.put(
                f"/api/tags/convo/{cid}", json={"tags": TAGS}, headers=auth(user)
            )
            assert response.status_code == 200, response.text


def _internal_errors(body: Any) -> list[Any]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return [
        e
        for e in errors or []
        if (e.get("extensions") or {}).get("code") == INTERNAL or e.get("message") == MASKED
    ]


@pytest.mark.slow
def test_generated_operations_never_answer_5xx_or_an_internal_error(
    mongo_uri: str, run_slow: bool
) -> None:
    # Hypothesis drives a synchronous test; the app gets its own event loop.
    loop = asyncio.new_event_loop()
    outcomes: Counter[str] = Counter()
    samples: dict[str, str] = {}
    failures: list[tuple[str, int, str]] = []
    try:
        app_client = _app_client(mongo_uri)
        database, client = loop.run_until_complete(app_client.__aenter__())

        async def send(document: str) -> None:
            await _reseed(database, client)
            response = await client.post("/graphql", json={"query": document}, headers=auth(ALICE))
            body = response.json()
            codes = sorted(
                {(e.get("extensions") or {}).get("code", "-") for e in body.get("errors") or []}
            )
            outcome = f"{response.status_code} {','.join(codes) or 'ok'}"
            outcomes[outcome] += 1
            samples.setdefault(outcome, response.text[:200])
            if response.status_code >= 500 or _internal_errors(body):
                failures.append((document, response.status_code, response.text[:500]))

        @settings(
            max_examples=SLOW_EXAMPLES if run_slow else EXAMPLES,
            deadline=None,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.filter_too_much,
            ],
        )
        @given(operations)
        def run(document: str) -> None:
            loop.run_until_complete(send(document))

        try:
            run()
        finally:
            loop.run_until_complete(app_client.__aexit__(None, None, None))
    finally:
        loop.close()
    print(f"\nGraphQL fuzz: {sum(outcomes.values())} operations; outcomes: {dict(outcomes)}")
    for outcome, text in sorted(samples.items()):
        print(f"  {outcome}: {text}")
    for document, status, text in failures[:5]:
        print(f"--- {status}: {text}\n{document}")
    assert failures == [], f"{len(failures)} internal errors; first: {failures[0]}"
