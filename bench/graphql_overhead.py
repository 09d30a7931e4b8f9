"""What persisted queries and the limits rule cost on the normal GraphQL path.

Runs the same requests, in-process over ASGI, through the gateway's GraphQL
view and through a baseline that differs only in having no limits rule and no
persisted-query store, and prints the ratio. No database: the query fails
authentication in its resolver, after parsing, validation (where the limits
rule runs) and the persisted-query lookup.

    PYTHONPATH=. python -m bench.graphql_overhead
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any, cast

import httpx
from strawberry.extensions import (
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)

from app.auth import TokenVerifier
from app.graphql.persisted_queries import MemoryStore, PersistedQueries, sha256_hex
from app.graphql.schema import make_schema
from app.graphql.view import GraphQLApp
from app.settings import Settings
from resolvers.adapters.services import Services
from resolvers.graphql.schema import build_schema, should_mask

QUERY = """query Page($after: String) {
  conversations(first: 25, after: $after) {
    edges { cursor node { conversationId title model updatedAt tags { tag }
      messages { messageId text sender children { messageId } } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
ROUNDS = 7
PER_ROUND = 400


def _apps() -> tuple[GraphQLApp, GraphQLApp]:
    # A page of 25 with messages is over the cost limit at the default message
    # bound (2,000 per conversation); this measures the path that runs.
    settings = Settings(env="test", jwt_secret="b" * 48, max_messages_per_conversation=4)
    services = Services(database=cast(Any, None))
    verifier = TokenVerifier(settings.jwt_secret)
    ours = GraphQLApp(
        make_schema(settings),
        settings,
        services,
        verifier,
        persisted=PersistedQueries(MemoryStore(settings.apq_cache_size)),
    )
    baseline_schema = build_schema(
        [
            lambda: ParserCache(maxsize=settings.parser_cache_size),
            lambda: ValidationCache(maxsize=settings.validation_cache_size),
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: MaskErrors(should_mask_error=should_mask),
        ]
    )
    baseline = GraphQLApp(baseline_schema, settings, services, verifier)
    return ours, baseline


async def _rate(app: GraphQLApp, body: dict[str, Any]) -> float:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        start = time.perf_counter()
        for _ in range(PER_ROUND):
            response = await client.post("/graphql", json=body)
            assert response.status_code == 200, response.text
        return PER_ROUND / (time.perf_counter() - start)


async def main() -> None:
    ours, baseline = _apps()
    plain = {"query": QUERY}
    persisted = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(QUERY)}}}
    # Register the persisted document and warm every cache.
    await _rate(ours, {**plain, **persisted})
    await _rate(baseline, plain)
    results: dict[str, list[float]] = {"baseline": [], "ours": [], "ours, APQ hit": []}
    for _ in range(ROUNDS):  # interleaved, so drift hits all three alike
        results["baseline"].append(await _rate(baseline, plain))
        results["ours"].append(await _rate(ours, plain))
        results["ours, APQ hit"].append(await _rate(ours, persisted))
    base = statistics.median(results["baseline"])
    for name, rates in results.items():
        rate = statistics.median(rates)
        print(f"{name:15} {rate:8.0f} req/s  ratio to baseline {rate / base:5.2f}")


if __name__ == "__main__":
    asyncio.run(main())
