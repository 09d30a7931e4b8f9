"""One deadline per HTTP request, on both edges, down to the database.

An ASGI middleware (issue 10, item 4):

- every command a reading request (GET, a GraphQL query) sends runs under
  ``pymongo.timeout``, so MongoDB receives ``maxTimeMS`` and stops the query
  itself when the request's time is up (the client cancelling alone would
  leave it running on the server); writes get none (see ``__call__``);
- a REST request still running at the deadline is cancelled and answers 503
  in LibreChat's shape; GraphQL's view has the same deadline
  (``GRAPHQL_TIMEOUT_S`` defaults to ``REQUEST_TIMEOUT_S``) and answers with
  ``extensions.code`` TIMEOUT. The view sets the database deadline itself
  (:func:`database_deadline`), for queries only: a timed-out mutation runs to
  its end in the background (app/graphql/timeouts.py), which a maxTimeMS
  would cut between its writes;
- a client that disconnects cancels its request: nobody waits for the answer.

The database deadline is a little later than the request's, so the request's
own timeout always fires first and decides the answer; the server then stops
the query within that grace at most. While no server is known to answer, the
database deadline is left off: PyMongo would otherwise wait the whole
deadline for a server instead of MONGO_TIMEOUT_MS (503 "Service unavailable").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

import pymongo
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.jsonutil import JSONResponse
from app.server import client_address

log = logging.getLogger(__name__)

# How much later than the request the database's maxTimeMS expires.
DATABASE_GRACE_S = 0.5
# Requests with their own, longer budget: an import streams a file of up to
# 250 MB into the database; gen_title waits up to 15.5 s as LibreChat does.
EXEMPT_PREFIXES: tuple[str, ...] = ("/api/convos/import", "/api/convos/gen_title/")
GRAPHQL_PATH = "/graphql"
# Requests whose database commands get maxTimeMS (see __call__).
READ_METHODS = frozenset({"GET", "HEAD"})


def database_deadline(
    seconds: float, database_up: Callable[[], bool]
) -> AbstractContextManager[None]:
    """``pymongo.timeout`` for a request of ``seconds``; none for 0 or while no
    server answers (PyMongo would wait the whole deadline for one)."""
    if seconds <= 0 or not database_up():
        return contextlib.nullcontext()
    return pymongo.timeout(seconds + DATABASE_GRACE_S)


def timeout_body(seconds: float) -> dict[str, str]:
    return {"error": f"The request took longer than {seconds:g} s and was stopped"}


class RequestDeadline:
    """Apply ``seconds`` to every HTTP request but the exempt ones."""

    def __init__(
        self,
        app: ASGIApp,
        seconds: float,
        *,
        database_up: Callable[[], bool] = lambda: True,
        exempt: Sequence[str] = EXEMPT_PREFIXES,
    ) -> None:
        self.app = app
        self.seconds = seconds
        self.database_up = database_up
        self.exempt = tuple(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        started = False
        headers = dict(scope.get("headers") or [])
        has_body = headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers
        watcher = _DisconnectWatcher(receive, has_body=has_body)

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # After this a disconnect is the normal end, not a client giving up.
                watcher.answered = True
            await send(message)

        # Reads only: a retried write under a deadline keeps retrying while the
        # database restarts and can land twice (a duplicate key, a 500).
        # GraphQL's view sets its own, for queries only.
        reads = scope["method"] in READ_METHODS and path != GRAPHQL_PATH
        seconds = self.seconds if reads else 0.0
        # GraphQL answers its own timeout with a GraphQL error; REST is cut here.
        limit = None if path == GRAPHQL_PATH else self.seconds
        # The app runs in this task (no task of its own per request: measured
        # ~100 us each); the watcher cancels this task if the client leaves.
        current = asyncio.current_task()
        assert current is not None
        watcher.start(current)
        deadline = asyncio.timeout(limit)
        try:
            with database_deadline(seconds, self.database_up):
                async with deadline:
                    await self.app(scope, watcher.receive, tracked_send)
        except TimeoutError:
            if not deadline.expired():
                raise
            log.warning("%s %s stopped at its %g s deadline", scope["method"], path, self.seconds)
            if not started:
                response = JSONResponse(timeout_body(self.seconds), status_code=503)
                await response(scope, receive, send)
        except asyncio.CancelledError:
            if watcher.disconnected and current.uncancel() == 0:
                # The client went away (and nobody else cancels this task):
                # its work is cancelled, nothing to answer.
                if not watcher.body_done:
                    # The same line as app/server.py's DisconnectGuard writes.
                    log.info(
                        "client %s left before sending its whole request: %s %s",
                        client_address(scope.get("client")),
                        scope["method"],
                        path,
                    )
                else:
                    log.info("%s %s cancelled: the client disconnected", scope["method"], path)
                return
            raise
        finally:
            watcher.stop()


class _DisconnectWatcher:
    """Cancels the request's task when the client disconnects.

    The watcher is the connection's only reader. It reads a body message only
    when the app asks for one (so a refused upload stays unread), hands it
    over, and once the body is through keeps reading to see the disconnect.
    A request without a body (a GET) is read at once: handlers never ask.
    """

    def __init__(self, receive: Receive, *, has_body: bool) -> None:
        self._receive = receive
        self._messages: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)
        self._demand = asyncio.Event()
        self._has_body = has_body
        self._gone = asyncio.Event()
        self._watch: asyncio.Task[None] | None = None
        self.answered = False
        # Whether the whole request body arrived (a request without one: at once).
        self.body_done = not has_body

    @property
    def disconnected(self) -> bool:
        return self._gone.is_set()

    async def receive(self) -> Message:
        self._demand.set()
        return await self._messages.get()

    def start(self, task: asyncio.Task[object]) -> None:
        async def watch() -> None:
            body_done = not self._has_body
            first = True
            while True:
                if not body_done or (first and self._has_body):
                    await self._demand.wait()
                    self._demand.clear()
                first = False
                try:
                    message = await self._receive()
                except asyncio.CancelledError:
                    raise
                except BaseException:
                    # An outer layer (app/server.py's DisconnectGuard) raises when
                    # the client leaves mid-body: the same as a disconnect here.
                    message = {"type": "http.disconnect"}
                if message["type"] == "http.disconnect":
                    break
                if not message.get("more_body", False):
                    body_done = self.body_done = True
                await self._messages.put(message)
            if not self.answered:
                self._gone.set()
                task.cancel()
            # Later reads by the app see the disconnect, as from the server.
            while True:
                await self._messages.put(message)

        self._watch = asyncio.ensure_future(watch())

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
