"""Reading ``multipart/form-data`` uploads: streamed to disk, bounded as they arrive.

Starlette's ``request.form()`` puts no cap on a file part's size, so uploads
are parsed here with python-multipart's streaming parser, chunk by chunk as
the body arrives:

- a declared ``Content-Length`` that cannot fit the limits is refused (413)
  before a byte of the body is read;
- file bytes are counted as they arrive, and the moment a file crosses
  ``max_file_bytes`` the upload is refused (413) without reading the rest;
- file parts go to a temporary file (in ``directory``, the
  ``CONVERSATION_IMPORT_TEMP_DIR`` setting) through a 1 MiB buffer, so memory
  does not grow with the upload; the other parts are small text fields, capped
  together at ``max_field_bytes``.

The caller owns the spooled files: :meth:`SpooledForm.discard` deletes them
(a failed parse deletes its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from app.request_body import TOO_LARGE as BODY_TOO_LARGE
from app.settings import Settings
from resolvers.importing.operation import UploadedFile
from resolvers.importing.sources import TOO_LARGE as FILE_TOO_LARGE
from resolvers.operations.errors import BadInput, PayloadTooLarge

if TYPE_CHECKING:
    # Defined for type checkers only.
    from python_multipart.multipart import MultipartCallbacks

# Room for boundaries and part headers on top of the parts' contents, when a
# declared Content-Length is checked against the limits.
_FRAMING_BYTES = 64 * 1024
# File bytes are written to disk in blocks of this size, off the event loop.
_WRITE_BLOCK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """What one multipart request may carry.

    Attributes:
        max_file_bytes: Bytes of one file part.
        max_field_bytes: Bytes of all text parts together.
        max_files: File parts.
        max_parts: Parts of any kind.
    """

    max_file_bytes: int
    max_field_bytes: int
    max_files: int = 1
    max_parts: int = 16

    @property
    def max_body_bytes(self) -> int:
        """The largest body that can fit these limits."""
        return self.max_files * self.max_file_bytes + self.max_field_bytes + _FRAMING_BYTES


@dataclass(slots=True)
class SpooledForm:
    """The parts of a multipart request: text fields in memory, files on disk."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)

    def discard(self) -> None:
        """Delete the spooled files."""
        for upload in self.files.values():
            with contextlib.suppress(FileNotFoundError):
                upload.path.unlink()
        self.files.clear()


def import_limits(settings: Settings, *, max_field_bytes: int) -> UploadLimits:
    """One import file of at most ``CONVERSATION_IMPORT_MAX_FILE_SIZE_BYTES``."""
    return UploadLimits(
        max_file_bytes=settings.import_max_file_bytes, max_field_bytes=max_field_bytes
    )


def is_multipart(content_type: str | None) -> bool:
    """Whether a Content-Type header announces ``multipart/form-data``."""
    media_type, _ = parse_options_header(content_type or "")
    return media_type == b"multipart/form-data"


def check_declared_length(headers: Mapping[str, str], limits: UploadLimits) -> None:
    """Refuse a body whose declared length cannot fit the limits, unread.

    Raises:
        PayloadTooLarge: ``Content-Length`` exceeds ``limits.max_body_bytes``.
    """
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise PayloadTooLarge(FILE_TOO_LARGE)


async def spool_form(
    chunks: AsyncIterator[bytes],
    content_type: str | None,
    limits: UploadLimits,
    directory: Path | None = None,
) -> SpooledForm:
    """Parse a multipart body, spooling its file parts to temporary files.

    A part is a file when its Content-Disposition has a ``filename``.

    Args:
        chunks: The body as it arrives (``request.stream()``).
        content_type: The request's Content-Type, with its boundary.
        limits: Sizes and counts the request may not exceed.
        directory: Where temporary files go; the system's temp dir when None.

    Returns:
        The fields and files; the caller deletes the files (``discard``).

    Raises:
        BadInput: Not multipart, a malformed body, too many parts or files.
        PayloadTooLarge: A file or the text fields over their limits, raised
            as soon as the limit is crossed (the rest is not read).
    """
    media_type, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise BadInput("Expected a multipart/form-data body")
    spooler = _Spooler(limits, directory)
    try:
        try:
            parser = MultipartParser(boundary, spooler.callbacks())
        except FormParserError as exc:
            raise BadInput("Invalid multipart body: bad boundary") from exc
        async for chunk in chunks:
            try:
                parser.write(chunk)
            except FormParserError as exc:
                raise BadInput("Invalid multipart body") from exc
            await spooler.flush()
        if not spooler.ended:
            raise BadInput("Invalid multipart body: it ends before its closing boundary")
        return spooler.form
    except BaseException:
        spooler.abort()
        raise


class _Spooler:
    """python-multipart callbacks that keep text fields and write files to disk."""

    def __init__(self, limits: UploadLimits, directory: Path | None) -> None:
        self.limits = limits
        self.directory = directory
        self.form = SpooledForm()
        self.ended = False
        self._parts = 0
        self._field_bytes = 0
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._disposition = b""
        self._name = ""
        self._text: bytearray | None = None
        # The file part being received: its path, open handle, size, name.
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        self._filename: str | None = None
        self._size = 0
        self._files = 0
        self._pending = bytearray()
        self._created: list[Path] = []

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    # --- parser callbacks (synchronous, may raise) ---------------------

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > self.limits.max_parts:
            raise BadInput(f"Too many parts in the form (at most {self.limits.max_parts})")
        self._disposition = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if bytes(self._header_name).lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise BadInput('A form part has no Content-Disposition "name"')
        self._name = options[b"name"].decode("utf-8", "replace")
        if b"filename" not in options:
            self._text = bytearray()
            return
        self._files += 1
        if self._files > self.limits.max_files:
            raise BadInput(
                "Only one file per request"
                if self.limits.max_files == 1
                else f"At most {self.limits.max_files} files per request"
            )
        self._filename = options[b"filename"].decode("utf-8", "replace")
        fd, name = tempfile.mkstemp(prefix="convos-import-", suffix=".upload", dir=self.directory)
        self._path = Path(name)
        self._created.append(self._path)
        # Unbuffered: writes are already gathered into _WRITE_BLOCK blocks.
        self._file = os.fdopen(fd, "wb", buffering=0)
        self._size = 0

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        length = end - start
        if self._text is not None:
            self._field_bytes += length
            if self._field_bytes > self.limits.max_field_bytes:
                raise PayloadTooLarge(BODY_TOO_LARGE)
            self._text += data[start:end]
            return
        self._size += length
        if self._size > self.limits.max_file_bytes:
            raise PayloadTooLarge(FILE_TOO_LARGE)
        self._pending += data[start:end]

    def _part_end(self) -> None:
        if self._text is not None:
            self.form.fields[self._name] = self._text.decode("utf-8", "replace")
            self._text = None
            return
        assert self._file is not None and self._path is not None
        # The last block is under _WRITE_BLOCK: written here, in the callback.
        self._file.write(self._pending)
        self._pending.clear()
        self._file.close()
        self._file = None
        self.form.files[self._name] = UploadedFile(self._path, self._size, self._filename)

    def _end(self) -> None:
        self.ended = True

    # --- between chunks (asynchronous) ---------------------------------

    async def flush(self) -> None:
        """Write the current file's buffered bytes once they fill a block."""
        if self._file is not None and len(self._pending) >= _WRITE_BLOCK:
            await asyncio.to_thread(self._file.write, self._pending)
            self._pending.clear()

    def abort(self) -> None:
        """Close and delete every file this parse created."""
        if self._file is not None:
            self._file.close()
            self._file = None
        for path in self._created:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
