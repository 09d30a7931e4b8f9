"""Strawberry types for conversations, messages and tags.

Leaf fields are plain attributes filled once from the stored document; only
fields that need I/O (a conversation's messages and tags) are async, and they
go through the per-request DataLoaders in :mod:`resolvers.graphql.loaders`,
except ``messagesConnection``, whose page (its own cursor and size per
conversation) is one indexed query of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from resolvers.operations import messages as message_ops
from resolvers.operations import search_matches as match_ops
from resolvers.operations.validation import MAX_TAGS_PER_CONVERSATION
from storage.conversations import SUMMARY_FIELDS, SortKey
from storage.database import Document
from storage.documents import DEFAULT_TITLE, tag_names

# Fields shown as typed GraphQL fields; every other stored field of a
# conversation is reachable through `preset` (so nothing stored is lost).
_CONVERSATION_FIELDS = frozenset({*SUMMARY_FIELDS, "__v", "_meiliIndex", "messages"})


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _date(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


async def _existing(found: Awaitable[list[Tag | None]]) -> list[Tag]:
    return [t for t in await found if t is not None]


# Storage's sort keys are the GraphQL enum (values by member name).
strawberry.enum(
    SortKey, name="ConversationSort", description="What a conversation list is ordered by."
)


@strawberry.enum
class SortDirection(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.type(description="A conversation tag (LibreChat calls them bookmarks).")
class Tag:
    tag: str
    description: str | None
    count: int = strawberry.field(description="How many of your conversations carry it.")
    position: int = strawberry.field(description="Order among your tags, from 0.")
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_doc(cls, doc: Document) -> Tag:
        count = doc.get("count")
        position = doc.get("position")
        return cls(
            tag=str(doc.get("tag") or ""),
            description=_str(doc.get("description")),
            count=int(count) if isinstance(count, int | float) else 0,
            position=int(position) if isinstance(position, int | float) else 0,
            created_at=_date(doc.get("createdAt")),
            updated_at=_date(doc.get("updatedAt")),
        )


@strawberry.type(description="One message; `parentMessageId` and `children` rebuild the tree.")
class Message:
    message_id: str
    conversation_id: str
    parent_message_id: str | None
    sender: str | None
    text: str | None
    content: JSON | None = strawberry.field(description="Structured parts, as stored.")
    is_created_by_user: bool
    model: str | None
    endpoint: str | None
    error: bool
    unfinished: bool
    token_count: int | None
    feedback: JSON | None
    created_at: datetime | None
    updated_at: datetime | None
    children: list[Message] = strawberry.field(description="Replies to this message, oldest first.")

    @classmethod
    def from_doc(cls, doc: Document) -> Message:
        tokens = doc.get("tokenCount")
        return cls(
            message_id=str(doc.get("messageId") or ""),
            conversation_id=str(doc.get("conversationId") or ""),
            parent_message_id=_str(doc.get("parentMessageId")),
            sender=_str(doc.get("sender")),
            text=_str(doc.get("text")),
            content=doc.get("content"),
            is_created_by_user=bool(doc.get("isCreatedByUser")),
            model=_str(doc.get("model")),
            endpoint=_str(doc.get("endpoint")),
            error=bool(doc.get("error")),
            unfinished=bool(doc.get("unfinished")),
            token_count=int(tokens) if isinstance(tokens, int | float) else None,
            feedback=doc.get("feedback"),
            created_at=_date(doc.get("createdAt")),
            updated_at=_date(doc.get("updatedAt")),
            children=[],
        )


def link_tree(messages: list[Message]) -> None:
    """Fill each message's ``children`` from the others' ``parentMessageId``."""
    by_id = {m.message_id: m for m in messages}
    for message in messages:
        parent = by_id.get(message.parent_message_id or "")
        if parent is not None and parent is not message:
            parent.children.append(message)


@strawberry.type(description="A conversation of the authenticated user.")
class Conversation:
    conversation_id: str
    title: str
    endpoint: str | None
    endpoint_type: str | None
    model: str | None
    model_label: str | None
    icon_url: str | None = strawberry.field(name="iconURL")
    agent_id: str | None
    assistant_id: str | None
    spec: str | None
    is_archived: bool
    archived_at: datetime | None
    pinned: bool
    tag_names: list[str] = strawberry.field(description="The tags' names, as stored.")
    created_at: datetime | None
    updated_at: datetime | None
    doc: strawberry.Private[Document]
    # Filled by a page resolver that loaded every conversation's messages or
    # tags at once (see resolvers.graphql.schema); None: load on demand.
    prefetched_messages: strawberry.Private[list[Message] | None] = None
    prefetched_tags: strawberry.Private[list[Tag] | None] = None
    # The search of the list that returned this conversation, if any: the
    # term ``searchMatches`` looks for when it is given none.
    search_text: strawberry.Private[str | None] = None

    @classmethod
    def from_doc(cls, doc: Document) -> Conversation:
        return cls(
            conversation_id=str(doc.get("conversationId") or ""),
            title=_str(doc.get("title")) or DEFAULT_TITLE,
            endpoint=_str(doc.get("endpoint")),
            endpoint_type=_str(doc.get("endpointType")),
            model=_str(doc.get("model")),
            model_label=_str(doc.get("modelLabel")),
            icon_url=_str(doc.get("iconURL")),
            agent_id=_str(doc.get("agent_id")),
            assistant_id=_str(doc.get("assistant_id")),
            spec=_str(doc.get("spec")),
            is_archived=bool(doc.get("isArchived")),
            archived_at=_date(doc.get("archivedAt")),
            pinned=bool(doc.get("pinned")),
            # At most what our writes allow, whatever another writer stored:
            # the GraphQL cost limit counts `tags` at this size.
            tag_names=tag_names(doc)[:MAX_TAGS_PER_CONVERSATION],
            created_at=_date(doc.get("createdAt")),
            updated_at=_date(doc.get("updatedAt")),
            doc=doc,
        )

    @strawberry.field(
        description="Every other stored field (model parameters, files, ...), as stored."
    )
    def preset(self) -> JSON:
        return JSON({k: v for k, v in self.doc.items() if k not in _CONVERSATION_FIELDS})

    # Plain (not async) resolvers: a prefetched list is returned as it is,
    # with no coroutine per conversation; otherwise graphql-core awaits the
    # per-request loader, which batches every conversation into one query.
    @strawberry.field(
        description="All messages, oldest first (one query per page).",
        graphql_type=list[Message],
    )
    def messages(self, info: Info) -> list[Message] | Awaitable[list[Message]]:
        if self.prefetched_messages is not None:
            return self.prefetched_messages
        loaded: Awaitable[list[Message]] = info.context.loaders.messages.load(self.conversation_id)
        return loaded

    @strawberry.field(
        description="The messages a page at a time, oldest first (creation time, then id): "
        "for conversations too long for `messages`. `first` defaults to 50 and is at most "
        "200; `children` links only messages on the same page (`parentMessageId` links "
        "across pages). Costed by `first`, not as a whole conversation."
    )
    async def messages_connection(
        self,
        info: Info,
        first: int | None = message_ops.DEFAULT_CONNECTION_SIZE,
        after: str | None = None,
    ) -> MessageConnection:
        context = info.context
        page = await message_ops.message_page(
            context.services,
            context.user,
            conversation_id=self.conversation_id,
            cursor=after,
            size=message_ops.page_size(first, message_ops.DEFAULT_CONNECTION_SIZE, "first"),
            sort_by="createdAt",
            sort_direction="asc",
            check_owner=False,  # this conversation was read as the user's
        )
        nodes = [Message.from_doc(doc) for doc in page.messages]
        link_tree(nodes)
        cursors = [page.cursor_after(doc) for doc in page.messages]
        conversation_id = self.conversation_id

        def count() -> Awaitable[int]:
            return message_ops.count_messages(
                context.services, context.user, conversation_id=conversation_id
            )

        return MessageConnection(
            edges=[MessageEdge(node=n, cursor=c) for n, c in zip(nodes, cursors, strict=True)],
            page_info=PageInfo(
                has_next_page=page.next_cursor is not None,
                has_previous_page=after is not None,
                start_cursor=cursors[0] if cursors else None,
                end_cursor=cursors[-1] if cursors else None,
            ),
            count=count,
        )

    @strawberry.field(
        description="The messages containing `text` (by default the `search` of the "
        "`conversations` list that returned this conversation), oldest first, at most "
        "`first` (default 3, at most 20): case-insensitive, in `text` or a "
        "`content[].text` part, the rule search uses. One lookup per page."
    )
    async def search_matches(
        self,
        info: Info,
        first: int | None = match_ops.DEFAULT_MATCHES,
        text: str | None = None,
    ) -> list[SearchMatch]:
        term, count = match_ops.check_request(text or self.search_text, first)
        loaded: list[SearchMatch] = await info.context.loaders.search_matches.load(
            (self.conversation_id, term, count)
        )
        return loaded

    @strawberry.field(
        description="The conversation's tags (one query per page).", graphql_type=list[Tag]
    )
    def tags(self, info: Info) -> list[Tag] | Awaitable[list[Tag]]:
        if self.prefetched_tags is not None:
            return self.prefetched_tags
        if not self.tag_names:
            return []
        return _existing(info.context.loaders.tags.load_many(self.tag_names))


@strawberry.type(description="Where a search term occurs in a conversation's messages.")
class SearchMatch:
    message_id: str = strawberry.field(description="The message holding the term.")
    snippet: str = strawberry.field(
        description="The term with up to 40 characters each side, whitespace folded, "
        "an ellipsis where the text goes on."
    )


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class ConversationEdge:
    node: Conversation
    # Encodes the cursor after a document; shared by the page's edges.
    cursor_of: strawberry.Private[Callable[[Document], str]]

    @strawberry.field
    def cursor(self) -> str:
        # Computed only when selected: most pages ask for pageInfo.endCursor.
        return self.cursor_of(self.node.doc)


@strawberry.type(description="A Relay-style page of conversations.")
class ConversationConnection:
    edges: list[ConversationEdge]
    page_info: PageInfo
    # The count, when the resolver saw `totalCount` selected and ran it with
    # the page; otherwise how to count on demand.
    known_total: strawberry.Private[int | None]
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many conversations match, on all pages.", graphql_type=int)
    def total_count(self) -> int | Awaitable[int]:
        # A plain value when known (no coroutine per request); graphql-core
        # awaits the count otherwise.
        return self.known_total if self.known_total is not None else self.count()


@strawberry.type
class MessageEdge:
    node: Message
    cursor: str


@strawberry.type(description="A Relay-style page of one conversation's messages.")
class MessageConnection:
    edges: list[MessageEdge]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many messages the conversation holds.")
    async def total_count(self) -> int:
        return await self.count()


@strawberry.type(description="What archiveAllConversations did.")
class ArchiveAllConversationsPayload:
    archived_count: int = strawberry.field(
        description="Conversations archived (those the default list showed)."
    )


@strawberry.type
class DeleteConversationsPayload:
    deleted_count: int
    deleted_message_count: int
    conversation_ids: list[str]


@strawberry.input
class CreateTagInput:
    tag: str
    description: str | None = None
    conversation_id: str | None = strawberry.field(
        default=None, description="Also put the tag on this conversation."
    )


@strawberry.input
class UpdateTagInput:
    tag: str | None = strawberry.field(default=None, description="A new name.")
    description: str | None = None
    position: int | None = None


@strawberry.enum(description="Which messages a fork keeps.")
class ForkOption(Enum):
    DIRECT_PATH = strawberry.enum_value(
        "directPath", description="The target and its ancestors: the visible thread."
    )
    INCLUDE_BRANCHES = strawberry.enum_value(
        "includeBranches",
        description="That thread plus every sibling branch off it (not the target's replies).",
    )
    TARGET_LEVEL = strawberry.enum_value(
        "targetLevel",
        description="Every message, on all branches, down to the target's depth.",
    )


@strawberry.input(description="Copy part of a conversation's message tree.")
class ForkConversationInput:
    conversation_id: str
    message_id: str = strawberry.field(description="The message the fork is taken at.")
    option: ForkOption = ForkOption.TARGET_LEVEL
    split_at_target: bool = strawberry.field(
        default=False,
        description="Start the fork at the target's depth (those messages become roots) "
        "and take it at `latestMessageId` instead.",
    )
    latest_message_id: str | None = strawberry.field(
        default=None, description="Required with `splitAtTarget`."
    )


@strawberry.type(description="The new conversation and its new messages.")
class ForkConversationPayload:
    conversation: Conversation
    messages: list[Message] = strawberry.field(
        description="Parents before children; `children` links the tree."
    )


@strawberry.type(description="The copy and its new messages.")
class DuplicateConversationPayload:
    conversation: Conversation
    messages: list[Message] = strawberry.field(
        description="Parents before children; `children` links the tree."
    )


@strawberry.type(description="What an import wrote.")
class ImportConversationsPayload:
    conversation_count: int
    message_count: int
    conversation_ids: list[str] = strawberry.field(
        description="The new conversations, in file order."
    )
    skipped_conversation_count: int = strawberry.field(
        description="Conversations left out for having no message to show (e.g. only a system "
        "prompt)."
    )
    skipped_files: list[str] = strawberry.field(
        description="Zip members that are no export (a data export's user.json...)."
    )
