"""The gateway as its own process, started the way operators start it
(``convos-gateway serve``: the real uvicorn and the real settings from the
environment), on a free loopback port.

Load and fault tests drive it from the test process, so the clients and the
server do not share an event loop (or a core), a crash is a dead process
rather than a failed task, and its log can be searched for tracebacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from storage.embedded import free_port
from tests.utils.factories import JWT_SECRET

REPO = Path(__file__).resolve().parents[2]
# Only what a process needs to run; the rest of the test runner's environment
# (a developer's MONGO_URI, REDIS_URI, ...) must not leak into the gateway.
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


@dataclass
class GatewayProcess:
    """A running ``convos-gateway serve``."""

    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tracebacks(self) -> int:
        return self.log().count("Traceback (most recent call last)")

    def warnings(self) -> Counter[str]:
        """WARNING and ERROR lines of the log by level, logger and message
        (its first 60 characters), for the test's figures."""
        found: Counter[str] = Counter()
        for line in self.log().splitlines():
            # "2026-12-03 08:03:15,769 ERROR resolvers.operations.fork: could not ..."
            parts = line.split(" ", 3)
            if len(parts) == 4 and parts[2] in ("WARNING", "ERROR", "CRITICAL"):
                found[f"{parts[2]} {parts[3][:60]}"] += 1
        return found


@contextlib.asynccontextmanager
async def gateway_process(
    env: Mapping[str, str], log_path: Path, *, start_timeout_s: float = 90.0
) -> AsyncIterator[GatewayProcess]:
    """Run the gateway with ``env`` (on top of a test secret and a free port)
    until the block ends; yields once ``/health`` answers 200.

    ``env`` must name the database (``MONGO_URI``): the CLI would otherwise
    start an embedded one of its own.
    """
    port = free_port()
    full_env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
    full_env.update(
        {
            "CONVOS_ENV": "test",
            "JWT_SECRET": JWT_SECRET,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
    )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        # `python -m app.cli` from the repository root: this checkout's code,
        # whichever checkout the shared virtualenv was installed from.
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            cwd=REPO,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    gateway = GatewayProcess(f"http://127.0.0.1:{port}", process, log_path)
    try:
        await _wait_healthy(gateway, start_timeout_s)
        yield gateway
    finally:
        await asyncio.to_thread(_stop, process)


async def _wait_healthy(gateway: GatewayProcess, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=2.0) as client:
        while loop.time() < deadline:
            if not gateway.alive:
                code = gateway.process.returncode
                raise RuntimeError(f"the gateway exited with {code}:\n{gateway.log()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the gateway did not answer /health in {timeout_s:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# Rate limits out of the way of a load from one loopback address: the load
# tests prove the data stays consistent, not that forks are refused.
HIGH_LIMITS = {
    "FORK_IP_MAX": "1000000",
    "FORK_USER_MAX": "1000000",
    "IMPORT_IP_MAX": "1000000",
    "IMPORT_USER_MAX": "1000000",
}
