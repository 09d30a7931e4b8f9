"""The first-run sample at the process edge: `serve` (as `make run` starts it)
and `convos-gateway demo`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from app.cli import DEV_USER_ID, main
from resolvers.demo import sample_exports
from resolvers.operations.clock import utcnow
from storage.embedded import EmbeddedServer
from tests.utils.factories import token
from tests.utils.gateway_process import Gateway, gateway

LOADED = "first run: loaded the built-in sample"
SAMPLE_TITLES = sorted(e["title"] for e in sample_exports(utcnow()))


def _printed_curl(running: Gateway) -> tuple[str, str]:
    """The token and the URL of the curl line ``serve`` printed."""
    for line in running.lines():
        match = re.search(r"curl -H 'Authorization: Bearer ([^']+)' (\S+)", line)
        if match:
            return match.group(1), match.group(2)
    raise AssertionError("no curl line:\n" + "\n".join(running.lines()))


def _printed_token(running: Gateway) -> str:
    return _printed_curl(running)[0]


def _titles(base_url: str, bearer: str, **params: str) -> list[str]:
    return _listed(f"{base_url}/api/convos", bearer, **params)


def _listed(url: str, bearer: str, **params: str) -> list[str]:
    response = httpx.get(
        url,
        params={"limit": "100", **params},
        headers={"Authorization": f"Bearer {bearer}"},
    )
    assert response.status_code == 200, response.text
    return sorted(c["title"] for c in response.json()["conversations"])


def _graphiql(base_url: str) -> httpx.Response:
    return httpx.get(f"{base_url}/graphql", headers={"Accept": "text/html"})


def test_first_serve_shows_the_sample_through_the_printed_curl_line_once(
    tmp_path: Path,
) -> None:
    # JWT_SECRET empty: the gateway generates its development secret, as on a fresh clone.
    with gateway(tmp_path, JWT_SECRET="") as running:
        printed, url = _printed_curl(running)
        assert url == f"{running.base_url}/api/convos"
        listed = _listed(url, printed)
        archived = _listed(url, printed, isArchived="true")
        assert sorted(listed + archived) == SAMPLE_TITLES
        assert len(archived) == 1
        assert sum(LOADED in line for line in running.lines()) == 1
        # GraphiQL opens with the printed token in its Headers tab.
        assert f"Bearer {printed}" in _graphiql(running.base_url).text

    with gateway(tmp_path, JWT_SECRET="") as again:
        printed = _printed_token(again)
        assert not any(LOADED in line for line in again.lines())
        listed_again = _titles(again.base_url, printed)
        assert listed_again == listed


def test_production_never_loads_the_sample(tmp_path: Path) -> None:
    with gateway(tmp_path, CONVOS_ENV="production") as running:
        assert _titles(running.base_url, token(DEV_USER_ID)) == []
        assert _titles(running.base_url, token(DEV_USER_ID), isArchived="true") == []
        assert not any(LOADED in line for line in running.lines())


def test_demo_data_false_starts_empty(tmp_path: Path) -> None:
    with gateway(tmp_path, JWT_SECRET="", DEMO_DATA="false") as running:
        assert _titles(running.base_url, _printed_token(running)) == []
        assert not any(LOADED in line for line in running.lines())


@pytest.fixture
def mongo_db(mongo_uri: str) -> Iterator[tuple[MongoClient[dict[str, object]], str]]:
    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri)
    name = f"test_{uuid.uuid4().hex[:16]}"
    try:
        yield client, name
    finally:
        client.drop_database(name)
        client.close()


def test_a_mongo_uri_database_never_gets_the_sample_nor_graphiql_a_token(
    tmp_path: Path, mongo_uri: str, mongo_db: tuple[MongoClient[dict[str, object]], str]
) -> None:
    client, name = mongo_db
    with gateway(tmp_path, MONGO_URI=mongo_uri, MONGO_DB_NAME=name) as running:
        assert not any(LOADED in line for line in running.lines())
        page = _graphiql(running.base_url)
        # JWT_SECRET was configured (the helper sets one): no token in the page.
        assert page.status_code == 200 and "Bearer ey" not in page.text
    assert client[name]["conversations"].count_documents({}) == 0
    assert client[name]["conversationtags"].count_documents({}) == 0


def _embedded_titles(data_dir: Path) -> list[str]:
    with EmbeddedServer(data_dir / "db") as server:
        client: MongoClient[dict[str, object]] = MongoClient(server.uri)
        try:
            docs = client["LibreChat"]["conversations"].find({"user": DEV_USER_ID})
            return sorted(str(d["title"]) for d in docs)
        finally:
            client.close()


def _dev_environment(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    monkeypatch.setenv("CONVOS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CONVOS_ENV", "development")
    for name in ("JWT_SECRET", "MONGO_URI", "MONGODB_URI", "MONGO_DB_NAME"):
        monkeypatch.delenv(name, raising=False)


def test_demo_reset_restores_the_sample_after_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    _dev_environment(monkeypatch, data_dir)
    assert main(["demo"]) == 0
    assert "Loaded the sample: 12 conversations" in capsys.readouterr().out
    assert main(["demo"]) == 0
    assert "nothing loaded" in capsys.readouterr().out
    assert _embedded_titles(data_dir) == SAMPLE_TITLES

    with EmbeddedServer(data_dir / "db") as server:
        client: MongoClient[dict[str, object]] = MongoClient(server.uri)
        db = client["LibreChat"]
        db["conversations"].delete_one({"user": DEV_USER_ID, "isArchived": True})
        db["conversations"].update_many({"user": DEV_USER_ID}, {"$set": {"title": "Changed"}})
        db["conversationtags"].insert_one({"user": DEV_USER_ID, "tag": "mine", "count": 0})
        client.close()

    assert main(["demo", "--reset"]) == 0
    assert "Loaded the sample: 12 conversations" in capsys.readouterr().out
    assert _embedded_titles(data_dir) == SAMPLE_TITLES
    with EmbeddedServer(data_dir / "db") as server:
        client = MongoClient(server.uri)
        tags = client["LibreChat"]["conversationtags"].distinct("tag", {"user": DEV_USER_ID})
        client.close()
    assert "mine" not in tags and len(tags) == 8


def test_demo_refuses_production_and_mongo_uri_and_changes_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mongo_uri: str,
    mongo_db: tuple[MongoClient[dict[str, object]], str],
) -> None:
    client, name = mongo_db
    client[name]["conversations"].insert_one({"user": DEV_USER_ID, "title": "Someone's own"})
    _dev_environment(monkeypatch, tmp_path / "data")
    monkeypatch.setenv("MONGO_URI", mongo_uri)
    monkeypatch.setenv("MONGO_DB_NAME", name)
    assert main(["demo", "--reset"]) == 2
    assert "embedded database" in capsys.readouterr().err
    titles = [d["title"] for d in client[name]["conversations"].find({"user": DEV_USER_ID})]
    assert titles == ["Someone's own"]

    monkeypatch.delenv("MONGO_URI")
    monkeypatch.setenv("CONVOS_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", "a-production-secret-of-enough-length-0123456789")
    assert main(["demo", "--reset"]) == 2
    assert "production" in capsys.readouterr().err
    assert not (tmp_path / "data" / "db").exists()


def test_demo_while_a_gateway_holds_the_data_folder_says_to_stop_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    _dev_environment(monkeypatch, data_dir)
    with EmbeddedServer(data_dir / "db"):
        assert main(["demo", "--reset"]) == 2
    assert "stop a gateway running on it first" in capsys.readouterr().err
    assert _embedded_titles(data_dir) == []


def test_graphiql_gets_no_token_when_the_gateway_listens_beyond_loopback(
    tmp_path: Path,
) -> None:
    with gateway(tmp_path, JWT_SECRET="", HOST="0.0.0.0") as running:
        printed = _printed_token(running)
        page = _graphiql(running.base_url)
        assert page.status_code == 200 and printed not in page.text
        assert any("set the header below" in line for line in running.lines())
