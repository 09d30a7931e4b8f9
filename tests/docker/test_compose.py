"""The image and the two compose topologies, checked without Docker.

Docker cannot run on these machines: the files are validated against the
compose-spec JSON schema (vendored by check-jsonschema) and read for what
the gateway needs from them.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
BESIDE = DOCKER / "compose.beside-librechat.yaml"
# Read by the OpenTelemetry SDK and app/tracing.py, not app/settings.py.
_OTEL = re.compile(r"^OTEL_[A-Z_]+$")


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def _compose_schema() -> dict[str, Any]:
    text = (
        resources.files("check_jsonschema.builtin_schemas.vendor")
        .joinpath("compose-spec.json")
        .read_text()
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


def _locations(conf: str) -> dict[str, str]:
    """``location`` argument -> the upstream its ``proxy_pass`` names."""
    blocks = re.findall(r"location\s+([^{]+?)\s*\{(.*?)\}", conf, re.S)
    return {
        where.strip(): re.search(r"proxy_pass\s+http://([$\w]+)", body).group(1)  # type: ignore[union-attr]
        for where, body in blocks
    }


@pytest.mark.parametrize("path", [COMPOSE, BESIDE], ids=lambda p: p.name)
def test_compose_file_is_valid_against_the_compose_spec(path: Path) -> None:
    jsonschema.validate(_load(path), _compose_schema())


@pytest.mark.parametrize(
    ("path", "services"),
    [
        (COMPOSE, {"mongo", "redis", "gateway", "proxy"}),
        (BESIDE, {"mongodb", "meilisearch", "api", "gateway", "proxy"}),
    ],
    ids=["compose", "beside-librechat"],
)
def test_gateway_env_names_are_ones_the_gateway_reads(path: Path, services: set[str]) -> None:
    data = _load(path)
    assert set(data["services"]) == services
    settings_source = (ROOT / "app" / "settings.py").read_text()
    env = data["services"]["gateway"]["environment"]
    for name in env:
        if _OTEL.match(name):
            continue
        assert f'"{name}"' in settings_source, f"{path.name}: {name} is not read by app/settings.py"
    assert "JWT_SECRET" in env and "MONGO_URI" in env and "TRUSTED_PROXIES" in env


def test_production_topology_shares_redis_and_a_replica_set_between_replicas() -> None:
    services = _load(COMPOSE)["services"]
    gateway = services["gateway"]
    assert gateway["deploy"]["replicas"] >= 2
    assert "replicaSet=rs0" in gateway["environment"]["MONGO_URI"]
    assert gateway["environment"]["REDIS_URI"].startswith("redis://redis:")
    assert gateway["environment"]["RATE_LIMIT_STORAGE_URI"].startswith("redis://redis:")
    # The set's member is named as clients resolve it.
    assert "host: 'mongo:27017'" in " ".join(services["mongo"]["healthcheck"]["test"])
    for name in ("mongo", "redis"):
        assert "test" in services[name]["healthcheck"], name
    assert gateway["depends_on"]["mongo"]["condition"] == "service_healthy"
    assert services["proxy"]["depends_on"]["gateway"]["condition"] == "service_healthy"


def test_beside_librechat_runs_librechat_as_its_compose_file_does_on_one_database() -> None:
    services = _load(BESIDE)["services"]
    api, gateway = services["api"]["environment"], services["gateway"]["environment"]
    assert api["MONGO_URI"] == gateway["MONGO_URI"] == "mongodb://mongodb:27017/LibreChat"
    assert api["MEILI_HOST"] == "http://meilisearch:7700"
    assert (
        "MEILI_MASTER_KEY" in api and "MEILI_MASTER_KEY" in services["meilisearch"]["environment"]
    )
    assert services["mongodb"]["command"] == "mongod --noauth"
    # One JWT secret: the gateway verifies LibreChat's tokens.
    assert api["JWT_SECRET"] == gateway["JWT_SECRET"]


def test_beside_librechat_proxy_sends_graphql_reads_and_imports_to_the_gateway() -> None:
    routes = _locations((DOCKER / "nginx.beside-librechat.conf").read_text())
    assert routes["= /graphql"] == "gateway"
    assert routes["= /api/convos/import"] == "gateway"
    assert routes["= /api/search/enable"] == "gateway"
    # Reads by method: GET to the gateway, writes to LibreChat (see the map).
    assert routes["= /api/convos"] == "$read_upstream"
    assert routes["= /api/tags"] == "$read_upstream"
    assert routes["^~ /api/convos/gen_title/"] == "librechat"
    assert routes["/"] == "librechat"
    conf = (DOCKER / "nginx.beside-librechat.conf").read_text()
    method_map = re.search(r"map \$request_method \$read_upstream \{(.*?)\}", conf, re.S)
    assert method_map is not None
    assert dict(re.findall(r"(\w+)\s+(\w+);", method_map.group(1))) == {
        "GET": "gateway",
        "HEAD": "gateway",
        "default": "librechat",
    }


def test_image_installs_the_lock_file_runs_as_non_root_and_checks_ready() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert "--require-hashes -r requirements.txt" in dockerfile
    user = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert user and user[-1] not in ("root", "0")
    healthcheck = re.search(r"^HEALTHCHECK .*?(?<!\\)\n", dockerfile, re.M | re.S)
    assert healthcheck is not None and "/ready" in healthcheck.group(0)
