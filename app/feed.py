"""The process's change feed and what it feeds: live events (and the search index).

Built by ``create_app``, started and stopped by its lifespan: one reader per
process (storage/change_feed.py), its subscribers wired here.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.events import LocalEvents, RedisEvents
from app.settings import Settings
from resolvers.events import ConversationEvent
from resolvers.feed_events import FeedEvents
from storage.change_feed import ChangeFeed
from storage.database import Database


@dataclass
class FeedRuntime:
    feed: ChangeFeed

    def start(self) -> None:
        self.feed.start()

    async def stop(self) -> None:
        await self.feed.stop()


def build_feed(
    settings: Settings, database: Database, events: LocalEvents | RedisEvents
) -> FeedRuntime:
    feed = ChangeFeed(database, mode=settings.change_feed, poll_s=settings.change_feed_poll_s)
    # Each process delivers what its own feed reads to its own subscribers:
    # through Redis every replica would announce every change once more.
    local = events.local if isinstance(events, RedisEvents) else events

    def deliver(event: ConversationEvent) -> None:
        local.deliver(event, announced=False)

    feed.subscribe(FeedEvents(deliver, local.recent).handle)
    return FeedRuntime(feed)
