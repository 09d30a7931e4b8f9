"""Importing conversation exports: LibreChat, ChatGPT, Chatbot UI and Claude.

This package turns an uploaded file into LibreChat documents, storage-free;
``writes.py`` stores them (hidden until complete) and ``pool.py`` bounds how
many imports run at once. An import is atomic per file, so the caller makes
two passes over the spooled upload, opened once (a zip is inflated once)::

    with open_upload(open_stream) as upload:          # raises BadInput / PayloadTooLarge
        summary = validate_import(upload)             # raises BadInput
        for parsed in iter_import(upload, user_id, now):
            ...                                       # insert_many in batches

Both passes stream with ijson and hold one conversation at a time, so memory
does not grow with the file. A zip (recognised by its bytes) is read member by
member: every ``*.json`` except macOS metadata, each streamed.

What is tolerated (imported, with a fallback):

- a message without ``metadata`` (newer ChatGPT exports, LibreChat issues
  #13630 and #15229): its model is the conversation's ``default_model_slug``,
  else the model that answered last, else ``gpt-4o-mini``; its sender is
  named from its slug or the default slug, else ``assistant``;
- a missing ``create_time``/``created_at``/``createdAt``: 1 ms after the
  parent, or the conversation's start for a root; missing titles take
  LibreChat's defaults ("Imported Chat", "Imported Claude Chat");
- a ChatGPT node whose ``parent`` is not in the mapping, or a flat LibreChat
  message whose ``parentMessageId`` is not in the file: it becomes a root (an
  export of a branch cut from a longer conversation loses nothing);
- nodes showing nothing (null message, system prompt, hidden context, empty
  text, no ``content``) are dropped and their children re-parented to the
  nearest kept ancestor; a LibreChat tree message with neither text nor
  content is dropped with its subtree, as LibreChat does;
- a conversation with no message left is skipped and counted
  (``ImportSummary.empty_conversations``);
- in a zip, a JSON member whose shape is no export (a data export's
  ``user.json``, ``message_feedback.json``) is skipped and listed
  (``ImportSummary.skipped_files``);
- content LibreChat cannot show (images, unknown parts, typed content such as
  reasoning) is kept visible as a placeholder or a JSON block, never dropped;
  a citation that does not fit its text leaves the text as written;
- a UTF-8 byte order mark.

What is an error (``BadInput``, nothing imported), naming the conversation by
its 1-based position and title and the field by its path, e.g.
``Conversation 3 ("Pasta"): mapping.u1.message.content must be an object``:

- invalid JSON ("Invalid JSON after conversation 2: parse error: premature
  EOF"), and a shape that is no export ("Unsupported import type: ...");
- a field of the wrong type, wherever it is read (``mapping`` as a list,
  ``parts`` as a string, a non-numeric ``create_time``, a date that is not
  ISO 8601): a wrong type means the file is not what it claims to be, and
  guessing would import something else than the user sees in the source;
- a missing field nothing can replace: ChatGPT ``mapping`` and
  ``message.author.role``, Claude ``chat_messages`` and ``sender`` (which must
  be "human" or "assistant"), Chatbot UI ``messages`` and ``role``;
- links that cannot form a tree: ChatGPT ``parent`` cycles, flat LibreChat
  messages in a cycle or repeating a ``messageId``;
- a tag longer than 256 characters (the contract's bound);
- an empty upload or one without any conversation ("No conversations found in
  file"): an empty array imports nothing, and a 201 for it would be the silent
  success users report (issue #15229);
- JSON nesting deeper than 20,000 levels (ijson's cost grows with depth).

Zip uploads whose JSON members declare, or inflate to, more than
``max_uncompressed_bytes`` (default 4x the 250 MiB upload limit) raise
``PayloadTooLarge("File exceeds the maximum allowed size")`` before the excess
is inflated; a zip whose central directory exceeds 8 MiB is refused.
"""

from .detection import ImportFormat, detect_format
from .documents import NO_PARENT, ParsedConversation
from .passes import ImportSummary, OpenStream, iter_import, validate_import
from .pool import ImportPool
from .sources import DEFAULT_MAX_UNCOMPRESSED_BYTES, Upload, open_upload

__all__ = [
    "DEFAULT_MAX_UNCOMPRESSED_BYTES",
    "NO_PARENT",
    "ImportFormat",
    "ImportPool",
    "ImportSummary",
    "OpenStream",
    "ParsedConversation",
    "Upload",
    "detect_format",
    "iter_import",
    "open_upload",
    "validate_import",
]
