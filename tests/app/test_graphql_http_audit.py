"""The GraphQL-over-HTTP specification, checked by graphql-http's own audit suite.

Runs ``serverAudits`` (npm ``graphql-http``, pinned in tests/graphql_http)
against a real uvicorn serving the gateway on a loopback port. Every audit
must pass: MUST, SHOULD and MAY alike.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.servers import node_project, running

pytestmark = pytest.mark.node


async def _audit(base: str) -> list[dict[str, Any]]:
    project = node_project()
    proc = await asyncio.create_subprocess_exec(
        "node",
        "audit.mjs",
        f"{base}/graphql",
        cwd=project,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    results: list[dict[str, Any]] = json.loads(out)
    return results


async def _run(settings: Settings, database: Database) -> list[dict[str, Any]]:
    app: Starlette = create_app(settings, database=database)
    async with running(app) as base:
        return await _audit(base)


async def test_every_graphql_http_audit_passes(mongo_uri: str, database: Database) -> None:
    results = await _run(make_settings(mongo_uri), database)
    failures = [r for r in results if r["status"] != "ok"]
    assert len(results) >= 60
    assert failures == []
    print(f"graphql-http serverAudits: {len(results)} passed, 0 failed")


# The audits that query `__type(name: $name)` and expect no errors.
INTROSPECTING_AUDITS = {"28B9", "2EA1", "6A70", "D6D5"}


async def test_with_production_switches_only_the_introspecting_audits_fail(
    mongo_uri: str, database: Database
) -> None:
    # Production turns introspection off; the audits that introspect then get
    # a validation error, which is the point of the switch. All others pass.
    settings = make_settings(
        mongo_uri, introspection=False, field_suggestions=False, graphiql=False
    )
    results = await _run(settings, database)
    failures = {r["id"] for r in results if r["status"] != "ok"}
    assert failures == INTROSPECTING_AUDITS
