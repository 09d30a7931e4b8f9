"""The process's change feed and what it feeds: live events and the search index.

Built by ``create_app``, started and stopped by its lifespan: one reader per
process (storage/change_feed.py), its subscribers wired here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.events import LocalEvents, RedisEvents
from app.settings import Settings
from resolvers.operations.events import ConversationEvent
from resolvers.operations.feed_events import FeedEvents
from storage.change_feed import Change, ChangeFeed
from storage.database import Database
from storage.search_index import SearchIndex


@dataclass
class FeedRuntime:
    feed: ChangeFeed
    database: Database
    index: SearchIndex | None

    def start(self) -> None:
        self.feed.start()
        if self.index is not None and not self.index.ready:
            # First start (or an interrupted build): build while serving with the scan.
            self.index.schedule_rebuild(self.database)

    async def stop(self) -> None:
        await self.feed.stop()
        if self.index is not None:
            await self.index.stop()
            self.index.close()


def build_index(settings: Settings) -> SearchIndex | None:
    """The search index, unless search scans or no feed would keep it current."""
    if settings.search_mode != "index" or settings.change_feed == "off":
        return None
    return SearchIndex(settings.search_index_file)


def build_feed(
    settings: Settings, database: Database, events: LocalEvents | RedisEvents
) -> FeedRuntime:
    index = build_index(settings)
    feed = ChangeFeed(
        database,
        mode=settings.change_feed,
        poll_s=settings.change_feed_poll_s,
        # The index's progress survives restarts; events need none.
        checkpoint=index.checkpoint if index is not None else None,
    )
    # Each process delivers what its own feed reads to its own subscribers:
    # through Redis every replica would announce every change once more.
    local = events.local if isinstance(events, RedisEvents) else events

    def deliver(event: ConversationEvent) -> None:
        local.deliver(event, announced=False)

    feed.subscribe(FeedEvents(deliver, local.recent).handle)
    if index is not None:
        search_index = index

        async def index_changes(changes: Sequence[Change]) -> None:
            await search_index.apply(database, changes)

        async def rebuild() -> None:
            search_index.schedule_rebuild(database)

        feed.subscribe(index_changes)
        feed.on_gap(rebuild)
        search_index.caught_up = feed.caught_up
    return FeedRuntime(feed, database, index)
