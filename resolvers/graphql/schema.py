"""The GraphQL schema: queries, mutations and subscriptions over the shared operations.

Longer than our other modules on purpose: ``Query`` and ``Mutation`` are one
class each (Strawberry's root types), and every field is a few lines that
hand typed arguments to an operation. Split across files they would need
``merge_types``, and a reader would lose the one page that lists the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.file_uploads import Upload
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from resolvers.adapters.services import Services
from resolvers.exporting.formats import ExportFormat
from resolvers.exporting.links import ExportLinks, export_link
from resolvers.graphql.context import GraphQLContext
from resolvers.graphql.execution import execution_context_for, install_plans
from resolvers.graphql.selection import selects
from resolvers.graphql.selection_types import (
    BulkUpdatePayload,
    ConversationFilterInput,
    ConversationSelectionInput,
    ExportLink,
)
from resolvers.graphql.subscriptions import Subscription
from resolvers.graphql.types import (
    ArchiveAllConversationsPayload,
    Conversation,
    ConversationConnection,
    ConversationEdge,
    CreateTagInput,
    DeleteConversationsPayload,
    DuplicateConversationPayload,
    ForkConversationInput,
    ForkConversationPayload,
    ImportConversationsPayload,
    Message,
    PageInfo,
    SortDirection,
    Tag,
    UpdateTagInput,
    link_tree,
)
from resolvers.importing import DEFAULT_MAX_UNCOMPRESSED_BYTES
from resolvers.importing import operation as import_ops
from resolvers.operations import bulk as bulk_ops
from resolvers.operations import conversations as ops
from resolvers.operations import date_filters
from resolvers.operations import fork as fork_ops
from resolvers.operations import tags as tag_ops
from resolvers.operations.clock import iso
from resolvers.operations.errors import BadInput, UserError
from resolvers.titles import operation as title_generation
from storage.conversations import SortKey
from storage.database import Document


def _context(info: Info) -> GraphQLContext:
    context: GraphQLContext = info.context
    return context


def _parse_datetime(value: Any) -> datetime:
    # A UserError, so the error names BAD_USER_INPUT (a ValueError would be
    # masked as an internal error when the bad value is written in the query).
    parsed = date_filters.parse_date(value, "DateTime") if isinstance(value, str) else None
    if parsed is None:
        raise BadInput("DateTime must be an ISO-8601 date")
    return parsed


DateTimeScalar = strawberry.scalar(
    name="DateTime",
    description="ISO-8601 UTC timestamp with milliseconds, e.g. 2024-01-15T10:00:00.000Z.",
    serialize=iso,
    parse_value=_parse_datetime,
)


# The list's date filters (resolvers/operations/date_filters.py says why
# "after" includes its bound and "before" does not).
CreatedAfter = Annotated[
    datetime | None, strawberry.argument(description="Created at or after this instant.")
]
CreatedBefore = Annotated[
    datetime | None, strawberry.argument(description="Created strictly before this instant.")
]
UpdatedAfter = Annotated[
    datetime | None, strawberry.argument(description="Last active at or after this instant.")
]
UpdatedBefore = Annotated[
    datetime | None, strawberry.argument(description="Last active strictly before this instant.")
]


async def _prefetch(
    ctx: GraphQLContext, nodes: list[Conversation], *, messages: bool, tags: bool
) -> None:
    """Load the page's messages and tags now, one query each, side by side.

    The same loaders serve them (so a later load in the request hits their
    cache); the conversations then hold plain lists, and their fields need no
    coroutine each.
    """
    if not nodes or not (messages or tags):
        return
    loads: list[Awaitable[Any]] = []
    if messages:
        loads.append(ctx.loaders.messages.load_many([n.conversation_id for n in nodes]))
    names = list(dict.fromkeys(t for n in nodes for t in n.tag_names)) if tags else []
    if names:
        loads.append(ctx.loaders.tags.load_many(names))
    results = iter(await asyncio.gather(*loads))
    if messages:
        for node, found in zip(nodes, next(results), strict=True):
            node.prefetched_messages = found
    if tags:
        by_name = dict(zip(names, next(results), strict=True)) if names else {}
        for node in nodes:
            node.prefetched_tags = [
                tag for tag in (by_name.get(name) for name in node.tag_names) if tag is not None
            ]


@strawberry.type
class Query:
    @strawberry.field(description="One of your conversations (NOT_FOUND / FORBIDDEN otherwise).")
    async def conversation(self, info: Info, conversation_id: str) -> Conversation:
        return await _conversation(_context(info), conversation_id)

    @strawberry.field(
        description="Your conversations, newest activity first by default, paged by cursor."
    )
    async def conversations(
        self,
        info: Info,
        first: int | None = ops.DEFAULT_LIMIT,
        after: str | None = None,
        is_archived: bool = False,
        tags: list[str] | None = None,
        search: str | None = None,
        pinned: bool | None = None,
        sort_by: SortKey = SortKey.UPDATED_AT,
        sort_direction: SortDirection = SortDirection.DESC,
        created_after: CreatedAfter = None,
        created_before: CreatedBefore = None,
        updated_after: UpdatedAfter = None,
        updated_before: UpdatedBefore = None,
    ) -> ConversationConnection:
        # The filter arguments are the selection filter's fields: one mapping to ListQuery.
        where = ConversationFilterInput(
            is_archived=is_archived,
            tags=tags,
            search=search,
            pinned=pinned,
            created_after=created_after,
            created_before=created_before,
            updated_after=updated_after,
            updated_before=updated_before,
        )
        query = replace(
            where.to_query(),
            limit=first,
            cursor=after,
            sort_by=sort_by.value,
            sort_direction=sort_direction.value,
        )
        ctx = _context(info)
        # The total is counted with the page (concurrently) only when asked for.
        total = selects(info, "totalCount")
        page = await ops.list_conversations(ctx.services, ctx.user, query, with_total=total)
        nodes = [Conversation.from_doc(doc) for doc in page.items]
        for node in nodes:
            node.search_text = query.search
        await _prefetch(
            ctx,
            nodes,
            messages=selects(info, "edges", "node", "messages"),
            tags=selects(info, "edges", "node", "tags"),
        )
        cursor_of = page.cursor_after
        edges = [ConversationEdge(node=node, cursor_of=cursor_of) for node in nodes]
        return ConversationConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.next_cursor is not None,
                has_previous_page=after is not None,
                start_cursor=cursor_of(page.items[0]) if page.items else None,
                end_cursor=cursor_of(page.items[-1]) if page.items else None,
            ),
            known_total=page.known_total,
            count=page.total,
        )

    @strawberry.field(description="Your tags, in their order.")
    async def tags(self, info: Info) -> list[Tag]:
        ctx = _context(info)
        return [Tag.from_doc(d) for d in await tag_ops.list_tags(ctx.services, ctx.user)]


async def _changed(
    info: Info, change: Callable[[Services, str], Awaitable[Document]]
) -> Conversation:
    """Apply one change to a conversation of the caller; the conversation after it."""
    ctx = _context(info)
    return Conversation.from_doc(await change(ctx.services, ctx.user))


async def _conversation(ctx: GraphQLContext, conversation_id: str) -> Conversation:
    doc = await ops.get_conversation(ctx.services, ctx.user, conversation_id=conversation_id)
    return Conversation.from_doc(doc)


async def _admit_fork(ctx: GraphQLContext) -> fork_ops.ForkAdmission:
    return await fork_ops.admit_fork(ctx.services, ctx.user, client_ip=ctx.extra.get("client_ip"))


def _payload(result: ops.DeleteResult) -> DeleteConversationsPayload:
    return DeleteConversationsPayload(
        deleted_count=result.conversations,
        deleted_message_count=result.messages,
        conversation_ids=list(result.conversation_ids),
    )


def _copy_parts(result: fork_ops.ConversationCopy) -> tuple[Conversation, list[Message]]:
    messages = [Message.from_doc(doc) for doc in result.messages]
    link_tree(messages)
    return Conversation.from_doc(result.conversation), messages


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description='Copy part of a conversation into a new one titled "<title> (Fork)". '
        "Shares a rate limit with duplicateConversation (RATE_LIMITED)."
    )
    async def fork_conversation(
        self, info: Info, input: ForkConversationInput
    ) -> ForkConversationPayload:
        ctx = _context(info)
        result = await fork_ops.fork_conversation(
            ctx.services,
            await _admit_fork(ctx),
            conversation_id=input.conversation_id,
            message_id=input.message_id,
            option=fork_ops.ForkOption[input.option.name],  # the same names
            split=fork_ops.split_at(input.split_at_target, input.latest_message_id),
        )
        conversation, messages = _copy_parts(result)
        return ForkConversationPayload(conversation=conversation, messages=messages)

    @strawberry.mutation(
        description="Copy a whole conversation; `title` names the copy (default: the same "
        "title). Shares a rate limit with forkConversation (RATE_LIMITED)."
    )
    async def duplicate_conversation(
        self, info: Info, conversation_id: str, title: str | None = None
    ) -> DuplicateConversationPayload:
        ctx = _context(info)
        result = await fork_ops.duplicate_conversation(
            ctx.services, await _admit_fork(ctx), conversation_id=conversation_id, title=title
        )
        conversation, messages = _copy_parts(result)
        return DuplicateConversationPayload(conversation=conversation, messages=messages)

    @strawberry.mutation(
        description="Import an export file (LibreChat, ChatGPT, Chatbot UI or Claude; JSON, or "
        "a zip of JSON files) sent as a GraphQL multipart request, with an "
        "`Apollo-Require-Preflight` header (CSRF protection). The whole file or nothing: a "
        "malformed file is BAD_USER_INPUT naming the conversation and the field. Shares the "
        "REST import's size limit (HTTP 413) and rate limit (HTTP 429)."
    )
    async def import_conversations(self, info: Info, file: Upload) -> ImportConversationsPayload:
        ctx = _context(info)
        if not isinstance(file, import_ops.UploadedFile):
            # The Upload scalar accepts any JSON value in a plain JSON request.
            raise BadInput("file must be sent as a multipart upload")
        admission = await import_ops.admission_for(
            ctx.services,
            ctx.user,
            client_ip=ctx.extra.get("client_ip"),
            prepaid=ctx.extra.get("import_admissions", []),
        )
        result = await import_ops.import_conversations(
            ctx.services,
            admission,
            file.open,
            max_uncompressed_bytes=ctx.extra.get(
                "import_max_uncompressed_bytes", DEFAULT_MAX_UNCOMPRESSED_BYTES
            ),
        )
        return ImportConversationsPayload(
            conversation_count=result.conversations,
            message_count=result.messages,
            conversation_ids=list(result.conversation_ids),
            skipped_conversation_count=result.empty_conversations,
            skipped_files=list(result.skipped_files),
        )

    @strawberry.mutation(description="Rename: trimmed, cut to 1,024 characters.")
    async def update_conversation_title(
        self, info: Info, conversation_id: str, title: str
    ) -> Conversation:
        rename = partial(ops.update_title, conversation_id=conversation_id, title=title)
        return await _changed(info, rename)

    @strawberry.mutation
    async def archive_conversation(
        self, info: Info, conversation_id: str, is_archived: bool
    ) -> Conversation:
        return await _changed(
            info, partial(ops.archive, conversation_id=conversation_id, is_archived=is_archived)
        )

    @strawberry.mutation(
        description="Archive every conversation the default list shows (not archived, not "
        "temporary): one archivedAt for all, each updatedAt kept."
    )
    async def archive_all_conversations(self, info: Info) -> ArchiveAllConversationsPayload:
        ctx = _context(info)
        archived = await ops.archive_all(ctx.services, ctx.user)
        return ArchiveAllConversationsPayload(archived_count=archived)

    @strawberry.mutation
    async def pin_conversation(
        self, info: Info, conversation_id: str, pinned: bool
    ) -> Conversation:
        pin = partial(ops.pin, conversation_id=conversation_id, pinned=pinned)
        return await _changed(info, pin)

    @strawberry.mutation(description="Delete a conversation and its messages.")
    async def delete_conversation(
        self, info: Info, conversation_id: str
    ) -> DeleteConversationsPayload:
        ctx = _context(info)
        result = await ops.delete_conversation(
            ctx.services, ctx.user, conversation_id=conversation_id
        )
        return _payload(result)

    @strawberry.mutation(description="Delete all your conversations and messages.")
    async def delete_all_conversations(self, info: Info) -> DeleteConversationsPayload:
        ctx = _context(info)
        return _payload(await ops.delete_all_conversations(ctx.services, ctx.user))

    @strawberry.mutation(description="Create a tag; an existing one is returned unchanged.")
    async def create_tag(self, info: Info, input: CreateTagInput) -> Tag:
        ctx = _context(info)
        doc = await tag_ops.create_tag(
            ctx.services,
            ctx.user,
            tag=input.tag,
            description=input.description,
            conversation_id=input.conversation_id,
        )
        return Tag.from_doc(doc)

    @strawberry.mutation(description="Rename, describe or move a tag.")
    async def update_tag(self, info: Info, tag: str, input: UpdateTagInput) -> Tag:
        ctx = _context(info)
        doc = await tag_ops.update_tag(
            ctx.services,
            ctx.user,
            tag=tag,
            new_name=input.tag,
            description=input.description,
            position=input.position,
        )
        return Tag.from_doc(doc)

    @strawberry.mutation(description="Delete a tag and take it off every conversation.")
    async def delete_tag(self, info: Info, tag: str) -> Tag:
        ctx = _context(info)
        return Tag.from_doc(await tag_ops.delete_tag(ctx.services, ctx.user, tag=tag))

    @strawberry.mutation(
        description="Recount every tag from the conversations, create the tags conversations "
        "carry but that do not exist, renumber positions from 0; returns all your tags."
    )
    async def rebuild_tags(self, info: Info) -> list[Tag]:
        ctx = _context(info)
        return [Tag.from_doc(d) for d in await tag_ops.rebuild_tags(ctx.services, ctx.user)]

    @strawberry.mutation(description="Replace a conversation's tags.")
    async def set_conversation_tags(
        self, info: Info, conversation_id: str, tags: list[str]
    ) -> Conversation:
        ctx = _context(info)
        await tag_ops.set_conversation_tags(
            ctx.services, ctx.user, conversation_id=conversation_id, tags=tags
        )
        return await _conversation(ctx, conversation_id)

    @strawberry.mutation(description="Put one tag on a conversation, creating it if needed.")
    async def add_conversation_tag(
        self, info: Info, conversation_id: str, tag: str
    ) -> Conversation:
        ctx = _context(info)
        await tag_ops.add_conversation_tag(
            ctx.services, ctx.user, conversation_id=conversation_id, tag=tag
        )
        return await _conversation(ctx, conversation_id)

    @strawberry.mutation(
        description="A generated title for a conversation that still has a default one, "
        "waiting for it like GET /api/convos/gen_title (NOT_FOUND when none arrives)."
    )
    async def generate_title(self, info: Info, conversation_id: str) -> str:
        ctx = _context(info)
        # Keep a margin inside the execution timeout for the reads around the wait.
        budget = None if ctx.deadline_s is None else ctx.deadline_s * 0.8
        return await title_generation.generated_title(
            ctx.services, ctx.user, conversation_id=conversation_id, wait_budget_s=budget
        )

    @strawberry.mutation(
        description="One action on a selection (up to 1,000 ids, or the list's filter): all or "
        "nothing for ids (FORBIDDEN if one is another user's, NOT_FOUND if one is unknown). "
        "`dryRun` counts and changes nothing. `tag` is required by ADD_TAG and REMOVE_TAG."
    )
    async def bulk_update_conversations(
        self,
        info: Info,
        selection: ConversationSelectionInput,
        action: bulk_ops.BulkAction,
        tag: str | None = None,
        dry_run: bool = False,
    ) -> BulkUpdatePayload:
        ctx = _context(info)
        result = await bulk_ops.bulk_update(
            ctx.services,
            ctx.user,
            selection=selection.to_selection(),
            action=action,
            tag=tag,
            dry_run=dry_run,
        )
        return BulkUpdatePayload.from_result(result)

    @strawberry.mutation(
        description="A short-lived signed link (EXPORT_LINK_TTL_S) that downloads the selection "
        "as a file, for a browser that cannot send a token. The selection is checked now "
        "(FORBIDDEN, NOT_FOUND); the export rate limit is spent when the link is opened."
    )
    async def export_conversations(
        self,
        info: Info,
        selection: ConversationSelectionInput,
        format: ExportFormat = ExportFormat.LIBRECHAT,
    ) -> ExportLink:
        ctx = _context(info)
        signer: ExportLinks = ctx.extra["export_links"]
        url, expires = await export_link(
            ctx.services, ctx.user, signer, selection.to_selection(), format
        )
        return ExportLink(url=url, expires_at=expires, format=format)


def should_mask(error: GraphQLError) -> bool:
    """Mask everything but our user-facing errors and GraphQL's own errors.

    Parse and validation errors have no original error, and variable coercion
    errors wrap another GraphQLError; they describe the request, not the
    server, so they pass (plain ``MaskErrors`` hides them).
    """
    original = error.original_error
    if original is None:
        return False
    return not isinstance(original, UserError | GraphQLError)


def config(*, field_suggestions: bool = True, max_batch: int = 0) -> StrawberryConfig:
    """Schema config; batching stays off unless ``max_batch`` > 0."""
    return StrawberryConfig(
        scalar_map={datetime: DateTimeScalar},
        disable_field_suggestions=not field_suggestions,
        batching_config={"max_operations": max_batch} if max_batch > 0 else None,
    )


def build_schema(
    extensions: Sequence[Callable[[], SchemaExtension]] = (),
    *,
    field_suggestions: bool = True,
    max_batch: int = 0,
    fast_path: bool = True,
) -> strawberry.Schema:
    """The schema with the given extensions (limits, masking, caches).

    Resolver-less leaf fields take a fast path through execution (see
    :mod:`resolvers.graphql.execution`) unless ``fast_path`` is false.
    """
    context_class = execution_context_for() if fast_path else None
    schema = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=config(field_suggestions=field_suggestions, max_batch=max_batch),
        extensions=list(extensions),
        execution_context_class=context_class,
    )
    if context_class is not None:
        install_plans(context_class, schema._schema)
    return schema
