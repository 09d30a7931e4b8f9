"""A real uvicorn serving an app on a loopback port, inside the test's event loop.

The app shares the test's database connection and loop, so tests can seed
data directly and drive the server from another process (node, chromium) or
from WebSocket clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

NODE_PROJECT = Path(__file__).resolve().parents[1] / "graphql_http"


@contextlib.asynccontextmanager
async def running(app: Starlette, *, lifespan: str = "on") -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port); yields ``http://127.0.0.1:PORT``."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan=lifespan,
        log_level="warning",
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if not server.started:
            if task.done():
                task.result()
            raise RuntimeError("uvicorn did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def node_project() -> Path:
    """tests/graphql_http with its node_modules installed (``npm ci`` on a fresh clone).

    Raises:
        RuntimeError: node or npm is missing (they are part of this machine kind).
    """
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        raise RuntimeError(
            "node and npm are needed for this test (Node 20 is on this machine kind)"
        )
    if not (NODE_PROJECT / "node_modules" / "graphql-http").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=NODE_PROJECT,
            check=True,
            timeout=300,
        )
    return NODE_PROJECT
