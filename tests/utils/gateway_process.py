"""``convos-gateway serve`` as a real child process on a fresh data directory."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from storage.embedded import free_port
from tests.utils.factories import JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]
# Generous: only reached when something is broken (a cold start on a loaded machine).
START_S = 120.0


@dataclass
class Gateway:
    process: subprocess.Popen[bytes]
    base_url: str
    output: Path  # stdout and stderr, merged

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def lines(self) -> list[str]:
        return self.output.read_text(errors="replace").splitlines()

    def children(self) -> list[int]:
        """Pids of the gateway's direct children (the embedded database)."""
        pid = self.process.pid
        path = Path(f"/proc/{pid}/task/{pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []


@contextlib.contextmanager
def gateway(tmp_path: Path, **env: str) -> Iterator[Gateway]:
    """Start the gateway (embedded database, port of its own) and wait until /ready is 200."""
    port = free_port()
    environment = {
        **os.environ,
        "CONVOS_DATA_DIR": str(tmp_path / "data"),
        "PORT": str(port),
        "CONVOS_ENV": "development",
        "JWT_SECRET": JWT_SECRET,
        **env,
    }
    for name in ("MONGO_URI", "MONGODB_URI", "REDIS_URI", "RATE_LIMIT_STORAGE_URI"):
        if name not in env:
            environment.pop(name, None)
    output = tmp_path / "gateway.log"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    running = Gateway(process, f"http://127.0.0.1:{port}", output)
    try:
        deadline = time.monotonic() + START_S
        while True:
            if process.poll() is not None:
                raise AssertionError("gateway exited:\n" + "\n".join(running.lines()))
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{running.base_url}/ready", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError("gateway not ready:\n" + "\n".join(running.lines()))
            time.sleep(0.1)
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
