"""Build ``app/static/openapi.json``, the OpenAPI 3.1 description of the REST routes.

The document is written out by this script rather than by hand so that the
error responses every route shares are spelled once. Run it after changing a
route, its parameters or its answers:

    .venv/bin/python tools/build_openapi.py          # rewrite the file
    .venv/bin/python tools/build_openapi.py --check  # exit 1 if the file is stale

``tests/app/test_openapi.py`` runs the check, and holds the document against
the app both ways (every route has an entry, every entry a route; every
response the REST tests receive matches its schema). The prose behind each
answer is ``docs/contract.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TARGET = Path(__file__).resolve().parents[1] / "app" / "static" / "openapi.json"

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: Schema) -> Schema:
    return {"application/json": {"schema": schema}}


def answer(description: str, schema: Schema, **extra: Any) -> Schema:
    return {"description": description, "content": json_content(schema), **extra}


# --- the shared answers ------------------------------------------------------

ERROR = ref("Error")
MESSAGE = ref("Message")
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until the window lets the next request through.",
        "schema": {"type": "integer", "minimum": 0},
    }
}

SHARED: dict[str, Schema] = {
    "BadRequest": answer(
        "Bad input: a missing or wrongly typed field, a value out of range, malformed "
        "JSON, a key starting with `$`. Nothing is written.",
        ERROR,
    ),
    "Unauthenticated": answer(
        "No bearer token, or one that does not verify; `message` names the reason "
        "(`No auth token`, `jwt malformed`, `jwt expired`, `invalid signature`, "
        "`invalid algorithm`, `jwt not active`, `invalid token`).",
        MESSAGE,
    ),
    "Forbidden": answer(
        "The conversation exists but belongs to another user. Nothing is read or changed.",
        ref("ForbiddenError"),
    ),
    "ConversationNotFound": answer(
        "No conversation with this id exists (`Conversation not found`), or, for fork, "
        "the message is not in it (`Message not found`).",
        ERROR,
    ),
    "TooLarge": answer(
        "The JSON body is larger than `MAX_JSON_BODY_BYTES` (`Request body too large`).",
        MESSAGE,
    ),
    "ForkLimited": answer(
        "Over the fork-and-duplicate budget of the caller's IP or user "
        "(`Too many conversation fork requests. Try again later`).",
        MESSAGE,
        headers=RETRY_AFTER,
    ),
    "ServerError": answer(
        "A fault on our side (`Internal server error`); no detail leaves the process.",
        ERROR,
    ),
    "Unavailable": answer(
        "MongoDB (or the Redis that holds rate-limit counters or titles) does not "
        "answer (`Service unavailable`); the process recovers when it returns.",
        ERROR,
    ),
}


def shared(name: str) -> Schema:
    return {"$ref": f"#/components/responses/{name}"}


def errors(*statuses: int, body: bool = False) -> dict[str, Schema]:
    """The shared error answers: 401, 500, 503 always, the given statuses too."""
    names = {
        400: "BadRequest",
        403: "Forbidden",
        404: "ConversationNotFound",
        413: "TooLarge",
        429: "ForkLimited",
    }
    chosen = {401: shared("Unauthenticated")}
    for status in statuses:
        chosen[status] = shared(names[status])
    if body:
        chosen[400] = shared("BadRequest")
        chosen[413] = shared("TooLarge")
    chosen[500] = shared("ServerError")
    chosen[503] = shared("Unavailable")
    return {str(status): chosen[status] for status in sorted(chosen)}


# --- the shapes ----------------------------------------------------------------

STRING_OR_NULL: Schema = {"type": ["string", "null"]}
DATE: Schema = {
    "type": "string",
    "format": "date-time",
    "description": "ISO-8601 UTC with milliseconds, e.g. `2024-01-15T10:00:00.000Z`.",
}
DATE_OR_NULL: Schema = {**DATE, "type": ["string", "null"]}
ID: Schema = {"type": "string", "minLength": 1, "maxLength": 200}

CONVERSATION_FIELDS: Schema = {
    "_id": {"type": "string", "description": "The stored ObjectId as 24 hex digits."},
    "conversationId": {"type": "string"},
    "user": {"type": "string"},
    "title": STRING_OR_NULL,
    "endpoint": STRING_OR_NULL,
    "endpointType": STRING_OR_NULL,
    "model": STRING_OR_NULL,
    "modelLabel": STRING_OR_NULL,
    "iconURL": STRING_OR_NULL,
    "agent_id": STRING_OR_NULL,
    "assistant_id": STRING_OR_NULL,
    "spec": STRING_OR_NULL,
    "isArchived": {"type": "boolean"},
    "archivedAt": DATE_OR_NULL,
    "pinned": {"type": "boolean"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "createdAt": DATE,
    "updatedAt": DATE,
}

BULK_ACTIONS = ["archive", "unarchive", "pin", "unpin", "addTag", "removeTag", "delete"]

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "description": "LibreChat's error shape for input and lookup errors.",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    },
    "ForbiddenError": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"const": "Unauthorized"},
            "message": {"const": "You don't have access to this conversation"},
        },
        "additionalProperties": False,
    },
    "Message": {
        "type": "object",
        "description": "LibreChat's other shape, used for auth, size, rate limits and notices.",
        "required": ["message"],
        "properties": {"message": {"type": "string"}},
        "additionalProperties": False,
    },
    "Conversation": {
        "type": "object",
        "description": "The whole stored conversation: every preset and unknown field as "
        "stored, without `__v` and `_meiliIndex`.",
        "required": ["conversationId"],
        "properties": {
            **CONVERSATION_FIELDS,
            "messages": {"type": "array", "items": {"type": "string"}},
            "files": {"type": "array"},
        },
        "additionalProperties": True,
    },
    "ConversationSummary": {
        "type": "object",
        "description": "A list item; the listed keys are always present (LibreChat's "
        "defaults when a stored document lacks them).",
        "required": ["conversationId", "title", "endpoint", "model", "isArchived", "tags"],
        "properties": CONVERSATION_FIELDS,
        "additionalProperties": True,
    },
    "ConversationPage": {
        "type": "object",
        "required": ["conversations", "nextCursor", "pageNumber", "pageSize", "pages"],
        "properties": {
            "conversations": {"type": "array", "items": ref("ConversationSummary")},
            "nextCursor": {
                "type": ["string", "null"],
                "description": "Opaque; `null` on the last page.",
            },
            "pageNumber": {"type": "integer", "minimum": 1},
            "pageSize": {"type": "integer", "minimum": 1, "maximum": 100},
            "pages": {"type": "integer", "minimum": 1},
        },
        "additionalProperties": False,
    },
    "ChatMessage": {
        "type": "object",
        "description": "A stored message as LibreChat keeps it (unknown fields kept).",
        "required": ["messageId", "conversationId"],
        "properties": {
            "messageId": {"type": "string"},
            "conversationId": {"type": "string"},
            "parentMessageId": STRING_OR_NULL,
            "user": {"type": "string"},
            "sender": STRING_OR_NULL,
            "text": STRING_OR_NULL,
            "isCreatedByUser": {"type": "boolean"},
            "createdAt": DATE,
            "updatedAt": DATE,
        },
        "additionalProperties": True,
    },
    "ConversationCopy": {
        "type": "object",
        "required": ["conversation", "messages"],
        "properties": {
            "conversation": ref("Conversation"),
            "messages": {"type": "array", "items": ref("ChatMessage")},
        },
        "additionalProperties": False,
    },
    "BulkResult": {
        "type": "object",
        "required": ["action", "dryRun", "matchedCount", "modifiedCount", "deletedMessageCount"],
        "properties": {
            "action": {"enum": BULK_ACTIONS},
            "dryRun": {"type": "boolean"},
            "matchedCount": {"type": "integer", "minimum": 0},
            "modifiedCount": {"type": "integer", "minimum": 0},
            "deletedMessageCount": {"type": "integer", "minimum": 0},
        },
        "additionalProperties": False,
    },
    "DeleteResult": {
        "type": "object",
        "required": ["acknowledged", "deletedCount", "messages", "conversationIds"],
        "properties": {
            "acknowledged": {"const": True},
            "deletedCount": {"type": "integer", "minimum": 0},
            "messages": {
                "type": "object",
                "required": ["acknowledged", "deletedCount"],
                "properties": {
                    "acknowledged": {"const": True},
                    "deletedCount": {"type": "integer", "minimum": 0},
                },
                "additionalProperties": False,
            },
            "conversationIds": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": False,
    },
    "Tag": {
        "type": "object",
        "required": ["tag"],
        "properties": {
            "_id": {"type": "string"},
            "tag": {"type": "string"},
            "user": {"type": "string"},
            "description": STRING_OR_NULL,
            "count": {"type": "integer"},
            "position": {"type": "integer"},
            "createdAt": DATE,
            "updatedAt": DATE,
        },
        "additionalProperties": True,
    },
    "TagPage": {
        "type": "object",
        "required": ["tags", "pageNumber", "pageSize", "pages"],
        "properties": {
            "tags": {"type": "array", "items": ref("Tag")},
            "pageNumber": {"type": "integer", "minimum": 1},
            "pageSize": {"type": "integer", "minimum": 1, "maximum": 100},
            "pages": {"type": "integer", "minimum": 1},
        },
        "additionalProperties": False,
    },
    "ArchiveAllResult": {
        "type": "object",
        "required": ["archivedCount"],
        "properties": {"archivedCount": {"type": "integer", "minimum": 0}},
        "additionalProperties": False,
    },
    "ClientMessage": {
        "type": "object",
        "description": "A message as LibreChat's client receives it: every stored field "
        "except `_id`, `__v`, `user` and server-internal state (`contextMeta`, `summary`, "
        "`clientId`, `invocationId`, `conversationSignature`, tracing flags).",
        "required": ["messageId", "conversationId"],
        "properties": {
            "messageId": {"type": "string"},
            "conversationId": {"type": "string"},
            "parentMessageId": STRING_OR_NULL,
            "sender": STRING_OR_NULL,
            "text": STRING_OR_NULL,
            "isCreatedByUser": {"type": "boolean"},
            "createdAt": DATE,
            "updatedAt": DATE,
        },
        "not": {"anyOf": [{"required": ["_id"]}, {"required": ["user"]}]},
        "additionalProperties": True,
    },
    "MessagePage": {
        "type": "object",
        "required": ["messages", "nextCursor"],
        "properties": {
            "messages": {"type": "array", "items": ref("ChatMessage")},
            "nextCursor": {
                "type": ["string", "null"],
                "description": "Opaque; `null` on the last page.",
            },
        },
        "additionalProperties": False,
    },
    "TagNames": {
        "type": "array",
        "description": "The tags now on the conversation.",
        "items": {"type": "string"},
    },
}


# --- the operations -----------------------------------------------------------


def path_param(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or ID,
    }


def query(name: str, schema: Schema, description: str, **extra: Any) -> Schema:
    return {"name": name, "in": "query", "description": description, "schema": schema, **extra}


def body(schema: Schema, *, required: bool = True) -> Schema:
    return {"required": required, "content": json_content(schema)}


def arg_body(properties: Schema, required: list[str]) -> Schema:
    """LibreChat's client wraps some mutations as ``{"arg": {...}}``."""
    return body(
        {
            "type": "object",
            "required": ["arg"],
            "properties": {
                "arg": {"type": "object", "required": required, "properties": properties}
            },
        }
    )


def operation(
    op_id: str,
    summary: str,
    tag: str,
    responses: dict[str, Schema],
    *,
    anchor: str,
    secured: bool = True,
    **extra: Any,
) -> Schema:
    result: Schema = {
        "operationId": op_id,
        "summary": summary,
        "tags": [tag],
        "description": f"Described in docs/contract.md#{anchor}.",
        **extra,
        "responses": responses,
    }
    if not secured:
        result["security"] = []
    return result


# Examples name the data tests/app/test_openapi_fuzz.py seeds, so the
# explicit-example phase reaches the success paths too.
EXAMPLE_CONVERSATION_ID = "8e601492-6eea-4c61-8a65-2efd1342a3ff"
EXAMPLE_TAG = "work"
CONVERSATION_ID = {
    **path_param("conversationId", "The conversation's `conversationId`."),
    "example": EXAMPLE_CONVERSATION_ID,
}
TAG_PATH = {
    **path_param(
        "tag",
        "The tag, percent-encoded (a `/` in a tag is sent as `%2F`).",
        {"type": "string", "minLength": 1, "maxLength": 256},
    ),
    "example": EXAMPLE_TAG,
}
# The tag routes read their path themselves; a path they cannot read (an empty
# segment, a line break decoded from %0A) is an unknown route, as in Express.
TAG_NOT_FOUND = answer(
    "No such tag (`error`: `Tag not found`), or a path the route cannot read, e.g. an "
    "empty tag or a line break in it (`message`: `Endpoint not found`).",
    {"anyOf": [ERROR, MESSAGE]},
)
TAGGED_CONVERSATION_NOT_FOUND = answer(
    "No such conversation (`error`: `Conversation not found`), or a path the route cannot "
    "read, e.g. a line break in the id (`message`: `Endpoint not found`).",
    {"anyOf": [ERROR, MESSAGE]},
)
TITLE_FIELD: Schema = {"type": "string", "description": "Trimmed, then cut to 1,024 characters."}


def _date_filter(name: str, meaning: str) -> Schema:
    return query(
        name,
        {"type": "string", "maxLength": 64, "example": "2024-01-15T10:00:00.000Z"},
        f"Extension (not in LibreChat): {meaning}. ISO-8601, a date (midnight UTC) or a "
        "timestamp (UTC unless it carries an offset); else 400 "
        f"`{name} must be an ISO-8601 date`.",
        **{"x-extension": True},
    )


# The list's date filters (docs/contract.md#convos-list-dates); extensions.
DATE_FILTERS = [
    _date_filter("createdAfter", "created at or after this instant"),
    _date_filter("createdBefore", "created strictly before this instant"),
    _date_filter("updatedAfter", "last updated at or after this instant"),
    _date_filter("updatedBefore", "last updated strictly before this instant"),
]


def _convos() -> dict[str, Schema]:
    sort_names = ["updatedAt", "createdAt", "title", "archivedAt"]
    return {
        "/api/convos": {
            "get": operation(
                "listConversations",
                "A page of the caller's conversations",
                "conversations",
                {"200": answer("The page.", ref("ConversationPage")), **errors(400)},
                anchor="convos-list",
                parameters=[
                    query(
                        "limit",
                        {"type": "integer", "minimum": 1},
                        "Page size, default 25; above 100 is served as 100.",
                    ),
                    query("cursor", {"type": "string"}, "`nextCursor` of the previous page."),
                    query(
                        "isArchived", {"type": "boolean"}, "Archived ones instead (default false)."
                    ),
                    query(
                        "tags",
                        {"type": "array", "items": {"type": "string", "maxLength": 256}},
                        "Conversations carrying any of these tags (also `tags[]=`).",
                        style="form",
                        explode=True,
                    ),
                    query(
                        "search",
                        {"type": "string", "maxLength": 512},
                        "Case-insensitive substring of the title, a tag or a message's text.",
                    ),
                    query("pinned", {"type": "boolean"}, "Only pinned (true) or unpinned (false)."),
                    query("sortBy", {"enum": sort_names}, "Default `updatedAt`."),
                    query("sortDirection", {"enum": ["asc", "desc"]}, "Default `desc`."),
                    query(
                        "pageNumber",
                        {"type": "integer", "minimum": 1, "maximum": 20_000_000},
                        "Legacy offset paging, used only without `cursor`.",
                    ),
                    *DATE_FILTERS,
                ],
            ),
            "delete": operation(
                "deleteConversation",
                "Delete one conversation and its messages",
                "conversations",
                {
                    "201": answer("Deleted (LibreChat's 201).", ref("DeleteResult")),
                    **errors(403, 404, body=True),
                },
                anchor="convos-delete",
                requestBody=arg_body(
                    {
                        "conversationId": ID,
                        "source": {"type": "string"},
                        "thread_id": {"type": "string"},
                        "endpoint": {"type": "string"},
                    },
                    ["conversationId"],
                ),
            ),
        },
        "/api/convos/all": {
            "delete": operation(
                "deleteAllConversations",
                "Delete every conversation of the caller",
                "conversations",
                {
                    "201": answer("Deleted, counts may be 0.", ref("DeleteResult")),
                    **errors(body=True),
                },
                anchor="convos-delete-all",
            )
        },
        "/api/convos/update": {
            "post": operation(
                "renameConversation",
                "Rename a conversation",
                "conversations",
                {
                    "201": answer("The updated conversation.", ref("Conversation")),
                    **errors(403, 404, body=True),
                },
                anchor="convos-update",
                requestBody=arg_body(
                    {"conversationId": ID, "title": TITLE_FIELD}, ["conversationId", "title"]
                ),
            )
        },
        "/api/convos/archive": {
            "post": operation(
                "archiveConversation",
                "Archive or unarchive a conversation",
                "conversations",
                {
                    "200": answer("The updated conversation.", ref("Conversation")),
                    **errors(403, 404, body=True),
                },
                anchor="convos-archive",
                requestBody=arg_body(
                    {"conversationId": ID, "isArchived": {"type": "boolean"}},
                    ["conversationId", "isArchived"],
                ),
            )
        },
        "/api/convos/archive/all": {
            "post": operation(
                "archiveAllConversations",
                "Archive every conversation the default list shows",
                "conversations",
                {
                    "200": answer("How many were archived (0 or more).", ref("ArchiveAllResult")),
                    **errors(body=True),
                },
                anchor="convos-archive-all",
                requestBody=body({"type": "object"}, required=False),
            )
        },
        "/api/convos/pin": {
            "post": operation(
                "pinConversation",
                "Pin or unpin a conversation",
                "conversations",
                {
                    "200": answer("The updated conversation.", ref("Conversation")),
                    **errors(403, 404, body=True),
                },
                anchor="convos-pin",
                requestBody=arg_body(
                    {"conversationId": ID, "pinned": {"type": "boolean"}},
                    ["conversationId", "pinned"],
                ),
            )
        },
        "/api/convos/fork": {
            "post": operation(
                "forkConversation",
                "Copy part of a conversation's message tree into a new conversation",
                "conversations",
                {
                    "200": answer(
                        "The new conversation and its messages.", ref("ConversationCopy")
                    ),
                    **errors(403, 404, 429, body=True),
                },
                anchor="convos-fork",
                requestBody=body(
                    {
                        "type": "object",
                        "required": ["conversationId", "messageId"],
                        "properties": {
                            "conversationId": ID,
                            "messageId": ID,
                            "option": {
                                "enum": [
                                    "directPath",
                                    "includeBranches",
                                    "targetLevel",
                                    "target",
                                    "branch",
                                    "",
                                    None,
                                ]
                            },
                            "splitAtTarget": {"type": ["boolean", "null"]},
                            "latestMessageId": {"type": ["string", "null"], "maxLength": 200},
                        },
                    }
                ),
            )
        },
        "/api/convos/duplicate": {
            "post": operation(
                "duplicateConversation",
                "Copy a whole conversation",
                "conversations",
                {
                    "201": answer("The copy and its messages.", ref("ConversationCopy")),
                    **errors(403, 404, 429, body=True),
                },
                anchor="convos-duplicate",
                requestBody=body(
                    {
                        "type": "object",
                        "required": ["conversationId"],
                        "properties": {
                            "conversationId": ID,
                            "title": {"type": ["string", "null"]},
                        },
                    }
                ),
            )
        },
        "/api/convos/import": {
            "post": operation(
                "importConversations",
                "Import an export file (LibreChat, ChatGPT, Chatbot UI, Claude; JSON or zip)",
                "conversations",
                {
                    "201": answer("Imported (`Conversation(s) imported successfully`).", MESSAGE),
                    "400": answer(
                        "No `file` part, a malformed multipart body (more than one file or 16 "
                        "parts included), or a file that is not a supported export; `error` "
                        "names the conversation and field. Nothing is written.",
                        ERROR,
                    ),
                    "401": shared("Unauthenticated"),
                    "413": answer(
                        "The file crossed `CONVERSATION_IMPORT_MAX_FILE_SIZE_BYTES` "
                        "(`File exceeds the maximum allowed size`), or one document would "
                        "exceed MongoDB's 16 MB; text parts over 64 KB together "
                        "(`Request body too large`).",
                        MESSAGE,
                    ),
                    "429": answer(
                        "Over the import budget of the caller's IP or user "
                        "(`Too many conversation import requests. Try again later`).",
                        MESSAGE,
                        headers=RETRY_AFTER,
                    ),
                    "500": shared("ServerError"),
                    "503": shared("Unavailable"),
                },
                anchor="convos-import",
                requestBody={
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {
                                    "file": {
                                        "type": "string",
                                        "contentMediaType": "application/octet-stream",
                                        "description": "The export: JSON, or a zip of JSON files.",
                                    }
                                },
                            }
                        }
                    },
                },
            )
        },
        **_selections(),
        "/api/convos/gen_title/{conversationId}": {
            "get": operation(
                "generatedTitle",
                "The conversation's generated title, waited for up to about 15.5 s",
                "conversations",
                {
                    "200": answer(
                        "The title.",
                        {
                            "type": "object",
                            "required": ["title"],
                            "properties": {"title": {"type": "string"}},
                            "additionalProperties": False,
                        },
                    ),
                    **errors(400, 403),
                    "404": answer(
                        "Unknown conversation (`error`), or no title arrived in time or "
                        "generation is off (`message`: `Title not found or method not "
                        "implemented for the conversation's endpoint`).",
                        {"anyOf": [ERROR, MESSAGE]},
                    ),
                },
                anchor="convos-gen-title",
                parameters=[CONVERSATION_ID],
            )
        },
        "/api/convos/{conversationId}": {
            "get": operation(
                "getConversation",
                "One conversation, whole",
                "conversations",
                {"200": answer("The conversation.", ref("Conversation")), **errors(400, 403, 404)},
                anchor="convos-get",
                parameters=[CONVERSATION_ID],
            )
        },
        "/api/search/enable": {
            "get": operation(
                "searchEnabled",
                "Whether the list's `search` works (always)",
                "conversations",
                {
                    "200": answer("Always `true`.", {"const": True}),
                    "401": shared("Unauthenticated"),
                    "500": shared("ServerError"),
                },
                anchor="search-enable",
            )
        },
    }


def _messages() -> dict[str, Schema]:
    return {
        "/api/messages": {
            "get": operation(
                "listMessagesPage",
                "A page of one conversation's messages, by cursor",
                "messages",
                {"200": answer("The page.", ref("MessagePage")), **errors(400, 403, 404)},
                anchor="messages-page",
                parameters=[
                    query(
                        "conversationId",
                        ID,
                        "The conversation; without it the page is empty.",
                        example=EXAMPLE_CONVERSATION_ID,
                    ),
                    query("cursor", {"type": "string"}, "`nextCursor` of the previous page."),
                    query(
                        "pageSize",
                        {"type": "integer", "minimum": 1},
                        "Default 25; above 200 is served as 200.",
                    ),
                    query(
                        "sortBy",
                        {"enum": ["createdAt", "updatedAt", "endpoint"]},
                        "Default `updatedAt`.",
                    ),
                    query("sortDirection", {"enum": ["asc", "desc"]}, "Default `desc`."),
                    query(
                        "messageId", {"type": "string"}, "Only this message of the conversation."
                    ),
                ],
            )
        },
        "/api/messages/{conversationId}": {
            "get": operation(
                "getConversationMessages",
                "Every message of one conversation, oldest first",
                "messages",
                {
                    "200": answer(
                        "The messages (an empty array for none).",
                        {"type": "array", "items": ref("ClientMessage")},
                    ),
                    **errors(400, 403, 404),
                },
                anchor="messages-of-conversation",
                parameters=[CONVERSATION_ID],
            )
        },
    }


SELECTION_FORBIDDEN = answer(
    "An id of the selection is another user's conversation: the whole selection is "
    "refused and nothing is read or changed.",
    {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": {"const": "Unauthorized"}, "message": {"type": "string"}},
        "additionalProperties": False,
    },
)
SELECTION_NOT_FOUND = answer(
    "An id of the selection is nobody's conversation: the whole selection is refused.", ERROR
)
FILTER_PROPERTIES: Schema = {
    "isArchived": {"type": "boolean"},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 256}},
    "search": {"type": "string", "maxLength": 500},
    "pinned": {"type": "boolean"},
}
IDS: Schema = {"type": "array", "items": ID, "minItems": 1, "maxItems": 1000}
EXPORT_FORMATS = ["librechat", "markdown", "jsonl"]


def _selections() -> dict[str, Schema]:
    """The extensions on a selection of conversations: bulk actions and export."""
    return {
        "/api/convos/bulk": {
            "post": operation(
                "bulkUpdateConversations",
                "One action on up to 1,000 conversations or on the list's filter (extension)",
                "conversations",
                {
                    "200": answer("What was matched and changed.", ref("BulkResult")),
                    "403": SELECTION_FORBIDDEN,
                    "404": SELECTION_NOT_FOUND,
                    **{k: v for k, v in errors(body=True).items() if k not in ("403", "404")},
                },
                anchor="convos-bulk",
                requestBody=body(
                    {
                        "type": "object",
                        "required": ["action"],
                        "properties": {
                            "action": {"enum": BULK_ACTIONS},
                            "tag": {"type": "string", "minLength": 1, "maxLength": 256},
                            "dryRun": {"type": "boolean"},
                            "ids": IDS,
                            "filter": {
                                "type": "object",
                                "properties": FILTER_PROPERTIES,
                                "additionalProperties": False,
                            },
                        },
                        "oneOf": [{"required": ["ids"]}, {"required": ["filter"]}],
                    }
                ),
            )
        },
        "/api/convos/export": {
            "get": {
                **operation(
                    "exportConversations",
                    "Stream a selection as LibreChat exports, Markdown or JSONL (extension)",
                    "conversations",
                    {
                        "200": {
                            "description": "The export, streamed as an attachment "
                            "(`Content-Disposition`): a zip of LibreChat JSON or Markdown "
                            "files, or JSON Lines.",
                            "content": {
                                "application/zip": {
                                    "schema": {
                                        "type": "string",
                                        "contentMediaType": "application/zip",
                                    }
                                },
                                "application/x-ndjson": {"schema": {"type": "string"}},
                            },
                        },
                        "400": shared("BadRequest"),
                        "401": shared("Unauthenticated"),
                        "403": SELECTION_FORBIDDEN,
                        "404": SELECTION_NOT_FOUND,
                        "429": answer(
                            "Over the export budget of the caller's IP or user "
                            "(`Too many conversation export requests. Try again later`).",
                            MESSAGE,
                            headers=RETRY_AFTER,
                        ),
                        "500": shared("ServerError"),
                        "503": shared("Unavailable"),
                    },
                    anchor="convos-export",
                    parameters=[
                        query("format", {"enum": EXPORT_FORMATS}, "Default `librechat`."),
                        query(
                            "ids",
                            {"type": "array", "items": {"type": "string"}, "maxItems": 1000},
                            "Up to 1,000 conversation ids (also `ids[]=`); else the filters.",
                            style="form",
                            explode=True,
                        ),
                        query("isArchived", {"type": "boolean"}, "As the list (default false)."),
                        query(
                            "tags",
                            {"type": "array", "items": {"type": "string", "maxLength": 256}},
                            "As the list.",
                            style="form",
                            explode=True,
                        ),
                        query("search", {"type": "string", "maxLength": 500}, "As the list."),
                        query("pinned", {"type": "boolean"}, "As the list."),
                        query("user", {"type": "string"}, "Signed links only."),
                        query("expires", {"type": "integer"}, "Signed links only (Unix time)."),
                        query("signature", {"type": "string"}, "Signed links only."),
                    ],
                ),
                # A bearer token, or a link signed by exportConversations (GraphQL).
                "security": [{"bearerAuth": []}, {}],
            }
        },
    }


def _tags() -> dict[str, Schema]:
    conversation_404 = TAGGED_CONVERSATION_NOT_FOUND
    return {
        "/api/tags": {
            "get": operation(
                "listTags",
                "All of the caller's tags, by position",
                "tags",
                {"200": answer("The tags.", {"type": "array", "items": ref("Tag")}), **errors()},
                anchor="tags-list",
            ),
            "post": operation(
                "createTag",
                "Create a tag (an existing one is returned unchanged)",
                "tags",
                {"200": answer("The tag.", ref("Tag")), **errors(403, 404, body=True)},
                anchor="tags-create",
                requestBody=body(
                    {
                        "type": "object",
                        "required": ["tag"],
                        "properties": {
                            "tag": {"type": "string", "minLength": 1, "maxLength": 256},
                            "description": {"type": ["string", "null"], "maxLength": 2048},
                            "addToConversation": {"type": ["boolean", "null"]},
                            "conversationId": ID,
                        },
                    }
                ),
            ),
        },
        "/api/tags/list": {
            "get": operation(
                "listTagsPage",
                "One page of the caller's tags",
                "tags",
                {"200": answer("The page.", ref("TagPage")), **errors(400)},
                anchor="tags-page",
                parameters=[
                    query(
                        "pageNumber",
                        {"type": "integer", "minimum": 1, "maximum": 20_000_000},
                        "1-based page.",
                        required=True,
                    ),
                    query(
                        "pageSize", {"type": "integer", "minimum": 1}, "Default 25, at most 100."
                    ),
                    query(
                        "sort",
                        {"enum": ["name", "tag", "count", "position", "createdAt", "updatedAt"]},
                        "Default `position`.",
                    ),
                    query("order", {"enum": ["asc", "desc"]}, "Default `asc`."),
                ],
            )
        },
        "/api/tags/rebuild": {
            "post": operation(
                "rebuildTags",
                "Recount every tag, create missing ones, renumber positions",
                "tags",
                {
                    "200": answer(
                        "Every tag of the caller afterwards, by position (as `GET /api/tags`).",
                        {"type": "array", "items": ref("Tag")},
                    ),
                    **errors(body=True),
                },
                anchor="tags-rebuild",
                requestBody=body({"type": "object"}, required=False),
            )
        },
        "/api/tags/{tag}": {
            "put": operation(
                "updateTag",
                "Rename, describe or move a tag",
                "tags",
                {
                    "200": answer("The updated tag.", ref("Tag")),
                    **errors(body=True),
                    "404": TAG_NOT_FOUND,
                    "409": answer("Renamed onto an existing tag (`Tag already exists`).", ERROR),
                },
                anchor="tags-update",
                parameters=[TAG_PATH],
                requestBody=body(
                    {
                        "type": "object",
                        "properties": {
                            "tag": {"type": ["string", "null"], "minLength": 1, "maxLength": 256},
                            "description": {"type": ["string", "null"], "maxLength": 2048},
                            "position": {"type": ["integer", "null"], "minimum": 0},
                        },
                    },
                    required=False,
                ),
            ),
            "delete": operation(
                "deleteTag",
                "Delete a tag and take it off every conversation",
                "tags",
                {
                    "200": answer("The deleted tag.", ref("Tag")),
                    **errors(body=True),
                    "404": TAG_NOT_FOUND,
                },
                anchor="tags-delete",
                parameters=[TAG_PATH],
            ),
        },
        "/api/tags/convo/{conversationId}": {
            "put": operation(
                "setConversationTags",
                "Replace a conversation's tags",
                "tags",
                {
                    "200": answer("The tags now on it.", ref("TagNames")),
                    **errors(403, body=True),
                    "404": conversation_404,
                },
                anchor="tags-set-on-conversation",
                parameters=[CONVERSATION_ID],
                requestBody=body(
                    {
                        "type": "object",
                        "required": ["tags"],
                        "properties": {
                            "tags": {
                                "type": "array",
                                "maxItems": 256,
                                "items": {"type": "string", "minLength": 1, "maxLength": 256},
                            }
                        },
                    }
                ),
            ),
            "post": operation(
                "addConversationTag",
                "Put one tag on a conversation",
                "tags",
                {
                    "200": answer("The tags now on it.", ref("TagNames")),
                    **errors(403, body=True),
                    "404": conversation_404,
                },
                anchor="tags-add-to-conversation",
                parameters=[CONVERSATION_ID],
                requestBody=body(
                    {
                        "type": "object",
                        "required": ["tag"],
                        "properties": {"tag": {"type": "string", "minLength": 1, "maxLength": 256}},
                    }
                ),
            ),
        },
    }


READY_BODY: Schema = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"enum": ["ready", "unavailable"]},
        "down": {"type": "array", "items": {"type": "string"}},
        "checks": {
            "type": "object",
            "additionalProperties": {"enum": ["up", "down"]},
        },
    },
}


def _service() -> dict[str, Schema]:
    return {
        "/health": {
            "get": operation(
                "health",
                "Liveness: the process answers (no dependency is checked)",
                "service",
                {
                    "200": {
                        "description": "`OK`.",
                        "content": {"text/plain": {"schema": {"const": "OK"}}},
                    }
                },
                anchor="health",
                secured=False,
            )
        },
        "/ready": {
            "get": operation(
                "ready",
                "Readiness: MongoDB (and Redis, when configured) answer",
                "service",
                {
                    "200": answer("Every dependency answered.", READY_BODY),
                    "503": answer("A dependency is down; `down` names it.", READY_BODY),
                },
                anchor="ready",
                secured=False,
            )
        },
        "/metrics": {
            "get": operation(
                "metrics",
                "Prometheus metrics (when METRICS_ENABLED and no METRICS_PORT)",
                "service",
                {
                    "200": {
                        "description": "Prometheus text exposition format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
                anchor="metrics",
                secured=False,
            )
        },
        "/openapi.json": {
            "get": operation(
                "openapi",
                "This document",
                "service",
                {"200": answer("The OpenAPI 3.1 document.", {"type": "object"})},
                anchor="openapi-document",
                secured=False,
            )
        },
    }


def build() -> Schema:
    """The whole document."""
    responses = {**SHARED}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "convos-gateway REST API",
            "version": "1",
            "summary": "LibreChat's /api/convos, /api/tags and /api/messages, as served here.",
            "description": (
                "Every route LibreChat's client calls, with LibreChat's statuses and JSON "
                "shapes, plus the places where the gateway deliberately answers better "
                "(see docs/contract.md#differences-from-librechat). GraphQL lives at "
                "/graphql and is described in docs/graphql.md."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "conversations", "description": "LibreChat's /api/convos routes."},
            {"name": "tags", "description": "LibreChat's /api/tags (bookmarks) routes."},
            {"name": "messages", "description": "LibreChat's /api/messages reads."},
            {"name": "service", "description": "Operational routes, no token needed."},
        ],
        "paths": {**_service(), **_convos(), **_tags(), **_messages()},
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "LibreChat's HS256 token; the user id is the `id` claim.",
                }
            },
            "schemas": SCHEMAS,
            "responses": responses,
        },
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{TARGET} is stale: run python tools/build_openapi.py\n")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
