"""GraphQL inputs and payloads for actions on many conversations (bulk, export)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

import strawberry

from resolvers.exporting.formats import ExportFormat
from resolvers.operations import bulk as bulk_ops
from resolvers.operations.conversations import ListQuery
from resolvers.operations.date_filters import DateRange
from resolvers.operations.selection import Selection


@strawberry.input(
    description="The conversation list's filter (the same fields as `conversations`)."
)
class ConversationFilterInput:
    is_archived: bool = False
    tags: list[str] | None = None
    search: str | None = None
    pinned: bool | None = None
    # The list's date filters: after inclusive, before exclusive.
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None

    def to_query(self) -> ListQuery:
        return ListQuery(
            is_archived=self.is_archived,
            tags=self.tags or (),
            search=self.search,
            pinned=self.pinned,
            dates=DateRange(
                created_after=self.created_after,
                created_before=self.created_before,
                updated_after=self.updated_after,
                updated_before=self.updated_before,
            ),
        )


@strawberry.input(
    description="Exactly one of `ids` (1 to 1,000 of your conversation ids; another user's id "
    "refuses the whole selection: FORBIDDEN, an unknown one NOT_FOUND) or `filter`."
)
class ConversationSelectionInput:
    ids: list[str] | None = None
    filter: ConversationFilterInput | None = None

    def to_selection(self) -> Selection:
        return Selection(
            ids=self.ids, filter=None if self.filter is None else self.filter.to_query()
        )


# The operations' enums are the GraphQL enums (values by member name).
strawberry.enum(
    bulk_ops.BulkAction,
    description="What bulkUpdateConversations does to each selected conversation.",
)
strawberry.enum(ExportFormat, description="The file exportConversations links to.")


@strawberry.type(description="What a bulk action matched and changed (or, dry, would change).")
class BulkUpdatePayload:
    action: bulk_ops.BulkAction
    dry_run: bool
    matched_count: int = strawberry.field(description="Conversations in the selection.")
    modified_count: int = strawberry.field(
        description="Conversations changed (or that would change): archiving an archived "
        "conversation, or tagging a tagged one, changes nothing."
    )
    deleted_message_count: int = strawberry.field(description="Messages deleted (delete only).")

    @classmethod
    def from_result(cls, result: bulk_ops.BulkResult) -> BulkUpdatePayload:
        # The payload's fields are the result's, by name.
        return cls(**asdict(result))


@strawberry.type(description="A signed download link to an export; no token is needed to open it.")
class ExportLink:
    url: str = strawberry.field(
        description="Relative to this server: GET /api/convos/export with the selection, your "
        "user id, the expiry and an HMAC signature."
    )
    expires_at: datetime
    format: ExportFormat
