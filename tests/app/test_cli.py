"""The command line: token, export-schema, and `serve` as `make run` uses it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from app.cli import main, parse_duration
from storage.embedded import free_port

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_token_is_signed_with_the_configured_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_SECRET", "cli-secret")
    assert main(["token", "--user", "u-42", "--ttl", "15m"]) == 0
    printed = capsys.readouterr().out.strip()
    claims = jwt.decode(printed, "cli-secret", algorithms=["HS256"])
    assert claims["id"] == "u-42"
    assert claims["exp"] - claims["iat"] == 900


def test_durations_accept_units_and_refuse_nonsense() -> None:
    assert [parse_duration(t) for t in ("90", "15m", "1h", "7d")] == [90, 900, 3600, 604800]
    with pytest.raises(Exception, match="not a duration"):
        parse_duration("soon")


def test_export_schema_prints_the_checked_in_sdl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-schema"]) == 0
    assert capsys.readouterr().out == SCHEMA_FILE.read_text()


def test_serve_refuses_production_without_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVOS_ENV", "production")
    monkeypatch.delenv("JWT_SECRET", raising=False)
    assert main(["serve"]) == 2
    assert "JWT_SECRET" in capsys.readouterr().err


def _wait_for(pattern: str, lines: list[str], proc: subprocess.Popen[str], limit_s: float) -> str:
    deadline = time.monotonic() + limit_s
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line)
        match = re.search(pattern, line)
        if match:
            return match.group(0)
    raise AssertionError("gateway did not print " + pattern + ":\n" + "".join(lines))


def test_serve_on_embedded_database_prints_a_curl_line_that_works(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CONVOS_DATA_DIR": str(tmp_path / "data"),
        "PORT": str(port),
        "CONVOS_ENV": "development",
    }
    env.pop("JWT_SECRET", None)
    env.pop("MONGO_URI", None)
    env.pop("MONGODB_URI", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        curl = _wait_for(r"curl -H 'Authorization: Bearer [^']+' \S+", lines, proc, 90)
        token = re.search(r"Bearer ([^']+)'", curl)
        url = curl.rsplit(" ", 1)[1]
        assert token is not None and url == f"http://127.0.0.1:{port}/api/convos"
        response = httpx.get(url, headers={"Authorization": f"Bearer {token.group(1)}"})
        assert response.status_code == 200
        # A fresh data directory in development: the first-run sample (archived one aside).
        assert len(response.json()["conversations"]) == 11
        assert (tmp_path / "data" / "db").is_dir()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()
    # The embedded server stopped with the gateway: its data directory is free
    # again, so a second start on it works (WiredTiger would refuse a held lock).
    second = subprocess.run(
        [
            sys.executable,
            "-c",
            "from storage.embedded import EmbeddedServer as E;"
            f"s=E({str(tmp_path / 'data' / 'db')!r}); s.start(); s.stop()",
        ],
        cwd=Path(__file__).resolve().parents[2],
        timeout=90,
        capture_output=True,
        text=True,
    )
    assert second.returncode == 0, second.stderr
