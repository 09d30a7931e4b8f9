"""Where conversation events go: in-process fan-out, or Redis pub/sub.

``LocalEvents`` hands each published event to the subscribers of the event's
user in this process. ``RedisEvents`` publishes to one Redis channel and every
replica (this one included) fans out what it receives from that channel, so a
client connected to one replica sees changes made through another.

Both keep a bounded queue per subscriber: a subscriber that falls more than
``queue_size`` events behind has its subscription ended with EVENTS_OVERFLOW
(the client refetches and subscribes again) instead of growing memory.
Events published while Redis is unreachable are lost (logged); live updates
are a convenience on top of the data, never the data itself.

Every subscriber of a user gets the same event object, whose ``shared`` reads
let one read serve them all; the fan-out holds it for each queued copy and
retires it when all are consumed or a newer event of that user arrives
(see ``resolvers.operations.events.SharedReads``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from resolvers.operations.events import ConversationEvent, EventKind, EventsOverflow
from resolvers.operations.feed_events import FreshnessMap

log = logging.getLogger("convos_gateway.events")

_RETRY_S = 1.0


class _Subscriber:
    __slots__ = ("overflowed", "queue")

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[ConversationEvent | None] = asyncio.Queue(maxsize=size)
        self.overflowed = False

    def offer(self, event: ConversationEvent) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            self.drop_queued()
            self.queue.put_nowait(None)
        else:
            event.shared.hold()

    def drop_queued(self) -> None:
        """Forget the events not yet taken, releasing each one's shared reads."""
        while not self.queue.empty():
            dropped = self.queue.get_nowait()
            if dropped is not None:
                dropped.shared.release()

    async def events(self) -> AsyncIterator[ConversationEvent]:
        while True:
            event = await self.queue.get()
            if event is None:
                raise EventsOverflow(
                    "Too many events were waiting for this subscription; refetch and "
                    "subscribe again"
                )
            try:
                # The consumer has delivered the event when it asks for the next.
                yield event
            finally:
                event.shared.release()


class LocalEvents:
    """In-process fan-out by user."""

    def __init__(self, queue_size: int = 100) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[str, set[_Subscriber]] = {}
        # Each user's newest event: the only one whose reads are shared.
        self._newest: dict[str, ConversationEvent] = {}
        # (user, conversation id) -> when an event about it was last delivered,
        # so the change feed does not repeat what a publish already said.
        self.recent: FreshnessMap = FreshnessMap()

    def subscriber_count(self, user: str | None = None) -> int:
        if user is not None:
            return len(self._subscribers.get(user, ()))
        return sum(len(s) for s in self._subscribers.values())

    async def publish(self, event: ConversationEvent) -> None:
        self.deliver(event)

    def deliver(self, event: ConversationEvent, *, announced: bool = True) -> None:
        if announced:
            self.recent.touch(event.user, event.conversation_ids)
        previous = self._newest.pop(event.user, None)
        if previous is not None:
            previous.shared.retire()
        subscribers = tuple(self._subscribers.get(event.user, ()))
        for subscriber in subscribers:
            subscriber.offer(event)
        if subscribers:
            self._newest[event.user] = event

    @contextlib.asynccontextmanager
    async def subscribe(self, user: str) -> AsyncIterator[AsyncIterator[ConversationEvent]]:
        subscriber = _Subscriber(self._queue_size)
        self._subscribers.setdefault(user, set()).add(subscriber)
        try:
            yield subscriber.events()
        finally:
            subscriber.drop_queued()
            subscribers = self._subscribers.get(user)
            if subscribers is not None:
                subscribers.discard(subscriber)
                if not subscribers:
                    del self._subscribers[user]
                    newest = self._newest.pop(user, None)
                    if newest is not None:
                        newest.shared.retire()


def encode_event(event: ConversationEvent) -> bytes:
    return orjson.dumps(
        {"kind": event.kind, "user": event.user, "ids": list(event.conversation_ids)}
    )


_KINDS = {kind.value: kind for kind in EventKind}


def decode_event(raw: Any) -> ConversationEvent | None:
    """An event from the channel, or None for anything malformed."""
    try:
        data = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError):
        return None
    if not isinstance(data, dict):
        return None
    kind, user, ids = data.get("kind"), data.get("user"), data.get("ids")
    if not isinstance(kind, str) or kind not in _KINDS:
        return None
    if not isinstance(user, str) or not isinstance(ids, list):
        return None
    if not all(isinstance(i, str) for i in ids):
        return None
    return ConversationEvent(_KINDS[kind], user, tuple(ids))


class RedisEvents:
    """Events through a Redis channel, fanned out locally by each replica.

    Call :meth:`start` before serving (it returns once the channel is
    subscribed) and :meth:`stop` at shutdown.
    """

    def __init__(self, redis: Redis, channel: str, queue_size: int = 100) -> None:
        self._redis = redis
        self._channel = channel
        self.local = LocalEvents(queue_size)
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def publish(self, event: ConversationEvent) -> None:
        try:
            await self._redis.publish(self._channel, encode_event(event))
        except RedisError as exc:
            log.warning("could not publish a %s event to Redis: %s", event.kind, exc)

    def subscribe(
        self, user: str
    ) -> contextlib.AbstractAsyncContextManager[AsyncIterator[ConversationEvent]]:
        return self.local.subscribe(user)

    async def start(self, timeout_s: float = 5.0) -> None:
        """Listen on the channel; wait (bounded) until the subscription is active."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="redis-events")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout_s)
        if not self._subscribed.is_set():
            log.warning("Redis events channel not subscribed yet; retrying in the background")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self._subscribed.set()
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None or message.get("type") != "message":
                        continue
                    event = decode_event(message.get("data"))
                    if event is not None:
                        self.local.deliver(event)
            except RedisError as exc:
                self._subscribed.clear()
                log.warning("Redis events listener lost its connection (%s); retrying", exc)
                await asyncio.sleep(_RETRY_S)
            finally:
                with contextlib.suppress(RedisError, RuntimeError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
