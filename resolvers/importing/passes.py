"""The two passes over an upload: validate everything, then produce documents.

An import is atomic per file, so the caller validates the whole upload before
writing anything, then reads it again and writes in batches. Both passes run
the same code (validation is a full conversion whose output is counted and
dropped), so a file that validates cannot fail half-way through the writes.
Each pass holds one conversation at a time.

Give both passes the same :class:`~.sources.Upload` (``open_upload``): a zip
is then inflated once for the whole import, not once per pass. Given a plain
``open_stream`` instead, each pass opens (and inflates) the upload itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO

import ijson

from ..operations.errors import BadInput
from . import chatbot_ui, chatgpt, claude, librechat
from .detection import (
    ITEMS_PREFIX,
    MAX_NESTING_DEPTH,
    ImportFormat,
    describe_json_error,
    nests_deeper_than,
    sniff,
)
from .documents import ImportContext, ParsedConversation
from .shape import Problem
from .sources import DEFAULT_MAX_UNCOMPRESSED_BYTES, Source, Upload, open_upload
from .timestamps import storage_time

NO_CONVERSATIONS = "No conversations found in file"
# Titles quoted in error messages are cut to this many characters.
_TITLE_IN_ERRORS = 60

OpenStream = Callable[[], IO[bytes]]
# Each format module has `convert(item, context)`: one conversation of the
# export (an item at ITEMS_PREFIX) as LibreChat documents for the importing
# user and time, None when nothing in it is shown, shape.Problem when a field
# is malformed; and `title_of(item)`, which names the item in error messages.
_Convert = Callable[[object, ImportContext], ParsedConversation | None]
_TitleOf = Callable[[object], str | None]
_CONVERTERS: dict[ImportFormat, tuple[_Convert, _TitleOf]] = {
    ImportFormat.LIBRECHAT: (librechat.convert, librechat.title_of),
    ImportFormat.CHATGPT: (chatgpt.convert, chatgpt.title_of),
    ImportFormat.CHATBOT_UI: (chatbot_ui.convert, chatbot_ui.title_of),
    ImportFormat.CLAUDE: (claude.convert, claude.title_of),
}


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an upload holds, from the validation pass.

    Attributes:
        conversations: Conversations that will be imported.
        messages: Messages they hold.
        empty_conversations: Conversations skipped because no message in them
            had anything to show (e.g. only a system prompt).
        formats: The formats found, in the order first seen.
        skipped_files: Zip members skipped because their shape is no export
            (a ChatGPT data export's ``user.json``, ``message_feedback.json``).
        tags: For each tag carried by an imported conversation, how many of
            them carry it.
    """

    conversations: int
    messages: int
    empty_conversations: int = 0
    formats: tuple[ImportFormat, ...] = ()
    skipped_files: tuple[str, ...] = ()
    tags: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(slots=True)
class _Tally:
    empty_conversations: int = 0
    formats: list[ImportFormat] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)


def validate_import(
    open_stream: OpenStream | Upload,
    *,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED_BYTES,
) -> ImportSummary:
    """Read the whole upload and report what it holds, or why it cannot be imported.

    Args:
        open_stream: The upload from :func:`~.sources.open_upload` (left
            open), or a function returning a new seekable binary file object
            over it at each call (the object is closed after the pass).
        max_uncompressed_bytes: Cap on the bytes inflated from zip members
            (zip bomb guard).

    Returns:
        Counts of what :func:`iter_import` will produce for the same upload.

    Raises:
        BadInput: Invalid JSON, an unsupported shape, a malformed conversation
            (the message names the conversation and the field), or no
            conversation at all.
        PayloadTooLarge: Zip members inflate past ``max_uncompressed_bytes``.
    """
    tally = _Tally()
    conversations = messages = 0
    tags: Counter[str] = Counter()
    context = ImportContext(user_id="", now=storage_time(datetime.now(UTC)))
    for parsed in _run(open_stream, context, max_uncompressed_bytes, tally, check_depth=True):
        conversations += 1
        messages += len(parsed.messages)
        tags.update(parsed.conversation["tags"])
    return ImportSummary(
        conversations=conversations,
        messages=messages,
        empty_conversations=tally.empty_conversations,
        formats=tuple(tally.formats),
        skipped_files=tuple(tally.skipped_files),
        tags=MappingProxyType(dict(tags)),
    )


def iter_import(
    open_stream: OpenStream | Upload,
    user_id: str,
    now: datetime,
    *,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED_BYTES,
) -> Iterator[ParsedConversation]:
    """The upload's conversations as LibreChat documents, one at a time.

    Call :func:`validate_import` first: this pass raises the same errors, but
    only when it reaches them, after earlier conversations were produced; and
    it trusts the upload's nesting depth, which only validation checks.

    Args:
        open_stream: As for :func:`validate_import`.
        user_id: The importing user, written to every document.
        now: The import time (aware, or naive UTC); it dates what the export
            does not.
        max_uncompressed_bytes: As for :func:`validate_import`.

    Yields:
        One :class:`ParsedConversation` per conversation with messages, with
        new ids, in file order.

    Raises:
        BadInput: As for :func:`validate_import`.
        PayloadTooLarge: As for :func:`validate_import`.
    """
    context = ImportContext(user_id=user_id, now=storage_time(now))
    return _run(open_stream, context, max_uncompressed_bytes, _Tally(), check_depth=False)


def _run(
    open_stream: OpenStream | Upload,
    context: ImportContext,
    max_uncompressed_bytes: int,
    tally: _Tally,
    *,
    check_depth: bool,
) -> Iterator[ParsedConversation]:
    produced = 0
    with _opened(open_stream, max_uncompressed_bytes) as upload:
        for source in upload.sources:
            with source.open() as reader, _json_errors(source.name, None):
                sniffed = sniff(reader)
            if sniffed.format is None:
                if source.name is not None:
                    # Other parts of a data export (user.json, feedback): skipped.
                    tally.skipped_files.append(str(source.name))
                    continue
                raise BadInput(sniffed.reason)
            if check_depth and _too_deep(source):
                where = f"{source.name}: " if source.name else ""
                raise BadInput(f"{where}The file nests deeper than {MAX_NESTING_DEPTH} levels")
            if sniffed.format not in tally.formats:
                tally.formats.append(sniffed.format)
            for parsed in _convert_source(source, sniffed.format, context, tally):
                produced += 1
                yield parsed
    if produced == 0:
        raise BadInput(NO_CONVERSATIONS + _why_none(tally))


def _opened(
    upload: OpenStream | Upload, max_uncompressed_bytes: int
) -> AbstractContextManager[Upload]:
    """The caller's upload as it is (it closes it), or one opened for this pass."""
    if isinstance(upload, Upload):
        return nullcontext(upload)
    return open_upload(upload, max_uncompressed_bytes)


def _why_none(tally: _Tally) -> str:
    """What was found instead of conversations, to help the user pick the right file."""
    notes: list[str] = []
    if tally.empty_conversations:
        notes.append(f"{tally.empty_conversations} had no messages")
    if tally.skipped_files:
        shown = ", ".join(tally.skipped_files[:5])
        more = f" and {len(tally.skipped_files) - 5} more" if len(tally.skipped_files) > 5 else ""
        notes.append(f"not an export: {shown}{more}")
    return f" ({'; '.join(notes)})" if notes else ""


def _too_deep(source: Source) -> bool:
    """Checked before ijson builds values, whose cost grows with their depth."""
    with source.open() as reader:
        try:
            return nests_deeper_than(reader, MAX_NESTING_DEPTH)
        except (ijson.JSONError, UnicodeDecodeError):
            # Nothing before the error nests too deep, so the conversion pass
            # can safely reach it, and reports it with how far it got.
            return False


def _convert_source(
    source: Source, fmt: ImportFormat, context: ImportContext, tally: _Tally
) -> Iterator[ParsedConversation]:
    convert, title_of = _CONVERTERS[fmt]
    position = [0]
    with source.open() as reader, _json_errors(source.name, position):
        for item in ijson.items(reader, ITEMS_PREFIX[fmt], use_float=True):
            position[0] += 1
            try:
                parsed = convert(item, context)
            except Problem as problem:
                where = _where(source.name, position[0], title_of(item))
                joiner = " " if problem.path.is_root else ": "
                raise BadInput(f"{where}{joiner}{problem}") from None
            if parsed is None:
                tally.empty_conversations += 1
                continue
            yield parsed


def _where(name: str | None, position: int, title: str | None) -> str:
    where = f"{name}: " if name else ""
    where += f"Conversation {position}"
    if title and title.strip():
        title = title.strip()
        if len(title) > _TITLE_IN_ERRORS:
            title = title[:_TITLE_IN_ERRORS] + "…"
        where += f' ("{title}")'
    return where


@contextmanager
def _json_errors(name: str | None, position: list[int] | None) -> Iterator[None]:
    """Turn ijson's parse errors into ``BadInput("Invalid JSON: ...")``.

    ``position`` (a one-item list the parse loop updates) says how many
    conversations were read before the error, which locates it in a large file.
    """
    try:
        yield
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        prefix = f"{name}: " if name else ""
        after = f" after conversation {position[0]}" if position and position[0] else ""
        raise BadInput(f"{prefix}Invalid JSON{after}: {describe_json_error(exc)}") from None
