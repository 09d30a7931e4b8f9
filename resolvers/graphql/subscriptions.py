"""Live updates: ``conversationEvents`` over graphql-transport-ws.

Each subscriber receives the events of its own conversations only: the event
source is asked for one user's events, the user the connection authenticated
as. ``conversation`` (with its messages and tags) is read when the event is
delivered, once per event for all the subscriptions it reaches in this process
(``event.shared``): ten subscriptions on a conversation of thousands of
messages cost one read of it per change, not ten.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from resolvers.adapters.services import Services
from resolvers.graphql.context import GraphQLContext
from resolvers.graphql.loaders import Loaders, make_loaders
from resolvers.graphql.selection import selects
from resolvers.graphql.types import Conversation
from resolvers.operations import conversations as ops
from resolvers.operations.errors import BadInput, Forbidden, NotFound
from resolvers.operations.events import ConversationEvent, EventKind, EventSource, SharedReads
from storage.database import Document

# The operations' kinds are the GraphQL enum (values by member name).
strawberry.enum(
    EventKind, name="ConversationEventKind", description="What happened to a conversation."
)


async def _read_conversation(services: Services, user: str, cid: str) -> Document | None:
    try:
        return await ops.get_conversation(services, user, conversation_id=cid)
    except (NotFound, Forbidden):
        return None


def _retrieve(task: asyncio.Task[Document | None]) -> None:
    # A shared read whose every waiter went away must not log "never retrieved".
    if not task.cancelled():
        task.exception()


def _shared_conversation(
    shared: SharedReads, services: Services, user: str, cid: str
) -> asyncio.Task[Document | None]:
    def start() -> asyncio.Task[Document | None]:
        task = asyncio.ensure_future(_read_conversation(services, user, cid))
        task.add_done_callback(_retrieve)
        return task

    return shared.get(f"conversation:{user}:{cid}", start)


def _shared_loaders(shared: SharedReads, services: Services, user: str) -> Loaders:
    # DataLoaders cache what they load: every subscription asking for the
    # messages of the event's conversation gets the first one's read.
    return shared.get(f"loaders:{user}", lambda: make_loaders(services, user))


@strawberry.type(name="ConversationEvent", description="A change to your conversations.")
class ConversationEventPayload:
    kind: EventKind
    conversation_ids: list[str] = strawberry.field(
        description="The conversations concerned (several for imports and deleteAll)."
    )
    shared: strawberry.Private[SharedReads]

    @strawberry.field(
        description="The conversation as it is now; null when deleted, gone, or several."
    )
    async def conversation(self, info: Info) -> Conversation | None:
        if self.kind is EventKind.DELETED or len(self.conversation_ids) != 1:
            return None
        ctx: GraphQLContext = info.context
        user, cid = ctx.user, self.conversation_ids[0]
        # Shielded: one subscription going away must not cancel the others' read.
        doc = await asyncio.shield(_shared_conversation(self.shared, ctx.services, user, cid))
        if doc is None:
            return None
        conversation = Conversation.from_doc(doc)
        wants_messages, wants_tags = selects(info, "messages"), selects(info, "tags")
        if wants_messages or wants_tags:
            loaders = _shared_loaders(self.shared, ctx.services, user)
            if wants_messages:
                messages = loaders.messages.load(cid)
                conversation.prefetched_messages = await asyncio.shield(messages)
            if wants_tags:
                found = await asyncio.shield(loaders.tags.load_many(conversation.tag_names))
                conversation.prefetched_tags = [t for t in found if t is not None]
        return conversation


def _payload(event: ConversationEvent) -> ConversationEventPayload:
    return ConversationEventPayload(
        kind=EventKind(event.kind),
        conversation_ids=list(event.conversation_ids),
        shared=event.shared,
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Changes to your conversations as they happen (optionally only some kinds)."
    )
    async def conversation_events(
        self, info: Info, kinds: list[EventKind] | None = None
    ) -> AsyncGenerator[ConversationEventPayload, None]:
        ctx: GraphQLContext = info.context
        user = ctx.user
        source = ctx.services.events
        if not isinstance(source, EventSource):
            raise BadInput("Live updates are not enabled on this gateway")
        wanted = {k.value for k in kinds} if kinds else None
        async with source.subscribe(user) as events:
            async for event in events:
                if event.user != user or (wanted is not None and event.kind not in wanted):
                    continue
                # A WebSocket keeps one context for its lifetime; per-event
                # loaders keep anything not read through event.shared current.
                ctx.reset_loaders()
                yield _payload(event)
