"""A change feed over LibreChat's collections: every writer's changes, LibreChat's too.

One reader per process follows ``conversations``, ``messages`` and
``conversationtags`` and hands each batch of changes to its subscribers (the
search index, live events). Two ways to read, chosen by ``mode``:

- ``changestream``: a MongoDB change stream on the database (SecantusDB offers
  them; MongoDB needs a replica set), resumed after a restart from the resume
  token kept in the gateway's own collection ``convosgateway_feed``;
- ``poll``: where change streams are not offered (a standalone ``mongod``, as
  in LibreChat's compose file), a catch-up by ``updatedAt`` every ``poll_s``.
  It cannot see deletes, nor updates that leave ``updatedAt`` alone (archive,
  pin): readers confirm against MongoDB, so those cost freshness only;
- ``auto``: change streams, falling back to polling where refused.

Whenever changes may have been missed (first start, a resume token the server
no longer knows), the ``on_gap`` subscribers are told, so they rebuild from
the database. A database that goes away is retried with backoff; the reader
resumes where it was. ``lag_s`` and ``changes_seen`` are its metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import OperationFailure, PyMongoError

from storage.database import CONVERSATIONS, MESSAGES, TAGS, Database, Document

log = logging.getLogger(__name__)

COLLECTIONS = (CONVERSATIONS, MESSAGES, TAGS)
# The gateway's own collection: one checkpoint document per feed name.
CHECKPOINTS = "convosgateway_feed"
MODES = ("auto", "changestream", "poll", "off")
# How long a change stream's getMore waits for news: the feed's added latency,
# and what a search waits at most for the feed to show it is current.
_AWAIT_MS = 25
# An idle stream asks again after this long (changes from other writers are
# seen within it), or at once when someone waits for the feed (_idle).
_IDLE_S = 1.0
# Poll mode rereads this far behind its newest updatedAt: writes committed out
# of order, or stamped by a client whose clock is a little behind ours.
_POLL_OVERLAP = timedelta(seconds=5)
_POLL_PAGE = 1000
_MAX_BACKOFF_S = 30.0
# A resume token is saved at most this often (and after every batch).
_SAVE_EVERY_S = 5.0


@dataclass(frozen=True)
class Change:
    """One change: ``document`` is the stored document after it, when known.

    ``operation`` is MongoDB's (insert, update, replace, delete) or ``upsert``
    when polling (an insert and an update look alike there).
    """

    collection: str
    operation: str
    key: Any
    document: Document | None


ChangeHandler = Callable[[Sequence[Change]], Awaitable[None]]
GapHandler = Callable[[], Awaitable[None]]


class StreamsNotOffered(Exception):
    """The server refuses change streams (a standalone mongod)."""


class ChangeFeed:
    """The process's one reader of the change feed; start and stop it with the app."""

    def __init__(
        self,
        database: Database,
        *,
        mode: str = "auto",
        poll_s: float = 2.0,
        checkpoint: str | None = None,
    ) -> None:
        """
        Args:
            mode: one of ``MODES``.
            poll_s: catch-up interval, and the first retry delay after a failure.
            checkpoint: the name under which progress is kept across restarts;
                None = start from now each time (and report a gap).
        """
        if mode not in MODES:
            raise ValueError(f"unknown change feed mode {mode!r}")
        self._database = database
        self._mode = mode
        self._poll_s = poll_s
        self._checkpoint = checkpoint
        self._handlers: list[ChangeHandler] = []
        self._gap_handlers: list[GapHandler] = []
        self._task: asyncio.Task[None] | None = None
        self._streams_refused = False
        self._token: Any = None
        self._since: datetime | None = None
        self._loaded = False
        self.reading = asyncio.Event()  # set once the feed reads (tests wait on it)
        self.mode_in_use: str | None = None
        self.changes_seen = 0
        self._last_read = time.monotonic()
        # When a read last found nothing pending, every change before it delivered.
        self._drained_at = float("-inf")
        self._drained = asyncio.Condition()
        self._wake = asyncio.Event()

    @property
    def lag_s(self) -> float:
        """Seconds since the feed last read successfully (its health metric)."""
        return time.monotonic() - self._last_read

    async def caught_up(self, timeout_s: float) -> bool:
        """Wait until every change committed before this call was delivered.

        False when the feed could not show it within ``timeout_s`` (down,
        lagging): the caller must not rely on what the feed fed.
        """
        since = time.monotonic()
        self._wake.set()  # read now instead of after the interval or idle wait
        try:
            async with asyncio.timeout(timeout_s), self._drained:
                await self._drained.wait_for(lambda: self._drained_at > since)
        except TimeoutError:
            return False
        return True

    async def _mark_drained(self, at: float) -> None:
        async with self._drained:
            self._drained_at = at
            self._drained.notify_all()

    def subscribe(self, handler: ChangeHandler) -> None:
        self._handlers.append(handler)

    def on_gap(self, handler: GapHandler) -> None:
        self._gap_handlers.append(handler)

    def start(self) -> None:
        if self._mode != "off" and self._task is None:
            self._task = asyncio.create_task(self._run(), name="change-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            # Keep what was delivered last, so a restart resumes right after it.
            try:
                await self._save_checkpoint()
            except PyMongoError as exc:
                log.warning("could not save the change feed's position (%s)", exc)

    # --- the loop ---------------------------------------------------------

    async def _run(self) -> None:
        delay = self._poll_s
        while True:
            try:
                if not self._loaded:
                    await self._load_checkpoint()
                if self._mode == "poll" or self._streams_refused:
                    await self._poll()
                else:
                    await self._follow_stream()
            except StreamsNotOffered as exc:
                if self._mode == "changestream":
                    log.error("CHANGE_FEED=changestream but the server refuses: %s", exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _MAX_BACKOFF_S)
                else:
                    log.info("change streams not offered (%s); catching up by updatedAt", exc)
                    self._streams_refused = True
            except PyMongoError as exc:
                log.warning("change feed interrupted (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF_S)
            except Exception:
                log.exception("change feed failed; retrying in %.1f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF_S)
            else:
                delay = self._poll_s

    async def _deliver(self, changes: Sequence[Change]) -> None:
        self._last_read = time.monotonic()
        if not changes:
            return
        self.changes_seen += len(changes)
        for handler in self._handlers:
            try:
                await handler(changes)
            except Exception:
                # One subscriber's fault must not stop the feed for the others.
                log.exception("change feed subscriber failed")

    async def _gap(self) -> None:
        for handler in self._gap_handlers:
            try:
                await handler()
            except Exception:
                log.exception("change feed gap handler failed")

    # --- change streams ---------------------------------------------------

    async def _open_stream(self) -> Any:
        pipeline = [{"$match": {"ns.coll": {"$in": list(COLLECTIONS)}}}]
        options: dict[str, Any] = {"full_document": "updateLookup", "max_await_time_ms": _AWAIT_MS}
        if self._token is not None:
            try:
                return await self._database.db.watch(pipeline, resume_after=self._token, **options)
            except OperationFailure as exc:
                # The server no longer has that point (history lost, new server).
                log.warning("cannot resume the change stream (%s); starting from now", exc)
                self._token = None
        try:
            stream = await self._database.db.watch(pipeline, **options)
        except OperationFailure as exc:
            raise StreamsNotOffered(str(exc)) from exc
        # No resume point: whatever happened before now may have been missed.
        await self._gap()
        return stream

    async def _follow_stream(self) -> None:
        stream = await self._open_stream()
        async with stream:
            # Known from the opening reply: a stop right now still resumes here.
            self._token = stream.resume_token or self._token
            self.mode_in_use = "changestream"
            self.reading.set()
            saved_at = time.monotonic()
            while True:
                batch: list[Change] = []
                drained = False
                while len(batch) < _POLL_PAGE:
                    event = await stream.try_next()
                    if event is None:
                        drained = True
                        break
                    batch.append(_from_event(event))
                # The empty reply came after every change committed before it.
                drained_at = time.monotonic()
                await self._deliver(batch)
                if drained:
                    await self._mark_drained(drained_at)
                self._token = stream.resume_token
                if batch or time.monotonic() - saved_at > _SAVE_EVERY_S:
                    await self._save_checkpoint()
                    saved_at = time.monotonic()
                if drained and not batch:
                    await self._idle()

    async def _idle(self) -> None:
        """After an empty reply: ask again in _IDLE_S, or at once for a waiter.

        Back-to-back getMores of _AWAIT_MS each were the gateway's largest CPU
        cost at rest (40 a second; measured in bench/requests.py's profile:
        ten getMores per request served). A waiter (``caught_up``, a search)
        sets the event and gets its empty reply within one _AWAIT_MS.
        """
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), _IDLE_S)
        self._wake.clear()

    # --- catch-up by updatedAt --------------------------------------------

    async def _poll(self) -> None:
        for name in COLLECTIONS:
            # Without it each catch-up would read the whole collection.
            await self._database.db[name].create_index([("updatedAt", 1), ("_id", 1)])
        if self._since is None:
            self._since = _now()
            await self._gap()
        seen: dict[tuple[str, Any], Any] = {}
        self.mode_in_use = "poll"
        self.reading.set()
        while True:
            self._wake.clear()
            cycle_started = time.monotonic()
            floor = self._since - _POLL_OVERLAP
            newest = self._since
            full_page = False
            batch: list[Change] = []
            for name in COLLECTIONS:
                docs = await (
                    self._database.db[name]
                    .find({"updatedAt": {"$gte": floor}}, sort=[("updatedAt", 1), ("_id", 1)])
                    .limit(_POLL_PAGE)
                    .to_list(None)
                )
                full_page = full_page or len(docs) == _POLL_PAGE
                for doc in docs:
                    key = (name, doc["_id"])
                    stamp = doc.get("updatedAt")
                    if seen.get(key) == stamp:
                        continue  # already delivered in the overlap window
                    seen[key] = stamp
                    batch.append(Change(name, "upsert", doc["_id"], doc))
                    if isinstance(stamp, datetime) and stamp > newest:
                        newest = stamp
            await self._deliver(batch)
            self._since = newest
            seen = {k: v for k, v in seen.items() if isinstance(v, datetime) and v >= floor}
            if batch:
                await self._save_checkpoint()
            if not full_page:
                await self._mark_drained(cycle_started)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_s)

    # --- checkpoints ------------------------------------------------------

    async def _load_checkpoint(self) -> None:
        if self._checkpoint is not None:
            doc = await self._database.db[CHECKPOINTS].find_one({"_id": self._checkpoint})
            if doc is not None:
                self._token = doc.get("token")
                since = doc.get("since")
                self._since = since if isinstance(since, datetime) else None
        self._loaded = True

    async def _save_checkpoint(self) -> None:
        if self._checkpoint is None:
            return
        fields: Document = {"updatedAt": _now()}
        if self._token is not None:
            fields["token"] = self._token
        if self._since is not None:
            fields["since"] = self._since
        await self._database.db[CHECKPOINTS].update_one(
            {"_id": self._checkpoint}, {"$set": fields}, upsert=True
        )


async def record_position(database: Database, checkpoint: str, mode: str = "auto") -> None:
    """Store "now" as ``checkpoint``'s position, before a rebuild reads everything:
    a feed started later resumes here (changes during the rebuild replay, harmlessly)."""
    fields: Document = {"since": _now(), "updatedAt": _now()}
    if mode in ("auto", "changestream"):
        pipeline = [{"$match": {"ns.coll": {"$in": list(COLLECTIONS)}}}]
        try:
            async with await database.db.watch(pipeline) as stream:
                fields["token"] = stream.resume_token
        except OperationFailure:
            if mode == "changestream":
                raise
    await database.db[CHECKPOINTS].update_one({"_id": checkpoint}, {"$set": fields}, upsert=True)


def _now() -> datetime:
    # Naive UTC, as LibreChat stores dates (and the client reads them).
    return datetime.now(UTC).replace(tzinfo=None)


def _from_event(event: Document) -> Change:
    return Change(
        collection=event["ns"]["coll"],
        operation=event["operationType"],
        key=(event.get("documentKey") or {}).get("_id"),
        document=event.get("fullDocument"),
    )
