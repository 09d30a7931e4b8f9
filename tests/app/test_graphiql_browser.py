"""GraphiQL works from the gateway alone: headless chromium, no network.

Debian's chromium, driven by Playwright (playwright-core in tests/graphql_http),
opens the page from a real uvicorn on a loopback port with every other address
refused, types a token into the Authorization header, runs the default query
and sees the seeded conversation; then runs a subscription from GraphiQL and sees
the event of a rename made over HTTP. In development the page opens with the
token already in its Headers tab, and the query runs without typing anything.
The screenshot goes to the test's tmp dir;
``UPDATE_SCREENSHOT=1`` also copies it to docs/graphiql.png.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from app.main import create_app
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import ALICE, insert_conversation, token
from tests.utils.servers import node_project, running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "graphiql.png"

pytestmark = [
    pytest.mark.chromium,
    pytest.mark.node,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (apt-get install -y chromium)",
    ),
]


async def test_graphiql_runs_a_query_with_the_authorization_header_offline(
    mongo_uri: str, database: Database, tmp_path: Path
) -> None:
    title = "GraphiQL works offline"
    doc = await insert_conversation(database, ALICE, title=title)
    app = create_app(make_settings(mongo_uri, graphiql=True), database=database)
    screenshot = tmp_path / "graphiql.png"
    async with running(app) as base:
        proc = await asyncio.create_subprocess_exec(
            "node",
            "graphiql.mjs",
            base,
            token(ALICE),
            title,
            str(screenshot),
            doc["conversationId"],
            cwd=node_project(),
            env={"CHROMIUM": CHROMIUM, "PATH": "/usr/bin:/bin"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode == 0, err.decode()[-3000:]
    outcome = json.loads(out)
    assert outcome["external"] == []
    assert outcome["pageErrors"] == []
    assert f'"Bearer {token(ALICE)}"'[:40] in outcome["headers"]
    response = json.loads(outcome["response"])
    edges = response["data"]["conversations"]["edges"]
    assert [e["node"]["title"] for e in edges] == [title]
    assert screenshot.stat().st_size > 10_000
    # The subscription ran in GraphiQL over the WebSocket and showed the event.
    event = json.loads(outcome["subscription"])["data"]["conversationEvents"]
    assert event["kind"] == "UPDATED"
    assert event["conversation"]["title"].startswith("Live from GraphiQL")
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(screenshot, SCREENSHOT)


async def test_graphiql_in_development_runs_a_query_without_typing_a_header(
    mongo_uri: str, database: Database, tmp_path: Path
) -> None:
    title = "Opened with the token"
    await insert_conversation(database, ALICE, title=title)
    bearer = token(ALICE)
    app = create_app(
        make_settings(mongo_uri, env="development", graphiql=True),
        database=database,
        graphiql_token=bearer,
    )
    async with running(app) as base:
        proc = await asyncio.create_subprocess_exec(
            "node",
            "graphiql.mjs",
            base,
            bearer,
            title,
            str(tmp_path / "graphiql.png"),
            cwd=node_project(),
            env={"CHROMIUM": CHROMIUM, "PATH": "/usr/bin:/bin", "PREFILLED": "1"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode == 0, err.decode()[-3000:]
    outcome = json.loads(out)
    assert outcome["external"] == [] and outcome["pageErrors"] == []
    assert f"Bearer {bearer}" in outcome["headers"]
    edges = json.loads(outcome["response"])["data"]["conversations"]["edges"]
    assert [e["node"]["title"] for e in edges] == [title]
