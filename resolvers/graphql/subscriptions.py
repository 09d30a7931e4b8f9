"""Live updates: ``conversationEvents`` over graphql-transport-ws.

Each subscriber receives the events of its own conversations only: the event
source is asked for one user's events, the user the connection authenticated
as. ``conversation`` is read when the event is delivered, with fresh loaders,
so it shows the conversation as it is now.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from enum import Enum

import strawberry
from strawberry.types import Info

from resolvers.graphql.context import GraphQLContext
from resolvers.graphql.types import Conversation
from resolvers.operations import conversations as ops
from resolvers.operations.errors import BadInput, Forbidden, NotFound
from resolvers.operations.events import ConversationEvent, EventSource


@strawberry.enum(description="What happened to a conversation.")
class ConversationEventKind(Enum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    TITLE_GENERATED = "title_generated"
    IMPORTED = "imported"


@strawberry.type(name="ConversationEvent", description="A change to your conversations.")
class ConversationEventPayload:
    kind: ConversationEventKind
    conversation_ids: list[str] = strawberry.field(
        description="The conversations concerned (several for imports and deleteAll)."
    )

    @strawberry.field(
        description="The conversation as it is now; null when deleted, gone, or several."
    )
    async def conversation(self, info: Info) -> Conversation | None:
        if self.kind is ConversationEventKind.DELETED or len(self.conversation_ids) != 1:
            return None
        ctx: GraphQLContext = info.context
        try:
            doc = await ops.get_conversation(
                ctx.services, ctx.user, conversation_id=self.conversation_ids[0]
            )
        except (NotFound, Forbidden):
            return None
        return Conversation.from_doc(doc)


def _payload(event: ConversationEvent) -> ConversationEventPayload:
    return ConversationEventPayload(
        kind=ConversationEventKind(event.kind), conversation_ids=list(event.conversation_ids)
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Changes to your conversations as they happen (optionally only some kinds)."
    )
    async def conversation_events(
        self, info: Info, kinds: list[ConversationEventKind] | None = None
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
                # loaders keep `conversation { messages }` current.
                ctx.reset_loaders()
                yield _payload(event)
