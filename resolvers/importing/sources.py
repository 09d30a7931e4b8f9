"""The JSON documents inside an upload: the file itself, or the members of a zip.

A zip is recognised by its magic bytes (uploads arrive under any name). Its
members ending in ``.json`` are read one at a time, each streamed; folders,
macOS metadata (``__MACOSX/``, ``._*``) and other files (a data export's
``chat.html``, images) are skipped without being decompressed.

The zip bomb guard lives here: the uncompressed size of the members read is
capped, first from the sizes the archive declares (before inflating a byte),
then by counting the bytes actually inflated. The central directory is bounded
too, because ``zipfile`` holds one object per entry in memory.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import IO, Protocol

from ..operations.errors import BadInput, PayloadTooLarge

# 4x LibreChat's default CONVERSATION_IMPORT_MAX_FILE_SIZE_BYTES (262144000):
# JSON compresses well, so a legitimate zip inflates to a few times its size.
DEFAULT_MAX_UNCOMPRESSED_BYTES = 4 * 262_144_000
# zipfile reads the whole central directory into memory, one ZipInfo per
# entry. 8 MiB holds tens of thousands of entries (a data export with images)
# while keeping a directory of millions of empty entries out.
MAX_ZIP_DIRECTORY_BYTES = 8 * 1024 * 1024
TOO_LARGE = "File exceeds the maximum allowed size"

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_UTF8_BOM = b"\xef\xbb\xbf"
_END_OF_DIRECTORY = b"PK\x05\x06"
_END_RECORD_SIZE = 22
_MAX_COMMENT = 0xFFFF


class Readable(Protocol):
    """What ijson needs from a source: ``read`` returning bytes."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Source:
    """One JSON document of the upload.

    Attributes:
        name: The zip member's name; None for an upload that is JSON itself.
        open: Opens the document for reading from its start. With
            ``counted=True`` the bytes read count against the zip bomb cap.
    """

    name: str | None
    open: Callable[[bool], AbstractContextManager[Readable]]


class _Budget:
    """Bytes of zip members left to inflate in one pass."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise PayloadTooLarge(TOO_LARGE)


class _Reader:
    """A source's bytes: without a UTF-8 BOM, counted, with zip errors named."""

    def __init__(self, raw: Readable, name: str | None, budget: _Budget | None) -> None:
        self._raw = raw
        self._name = name
        self._budget = budget
        self._at_start = True

    def read(self, size: int = -1, /) -> bytes:
        try:
            data = self._raw.read(size)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise BadInput(f"{self._name}: the zip file is damaged ({exc})") from None
        if self._budget is not None:
            self._budget.spend(len(data))
        if self._at_start and data:
            self._at_start = False
            # Editors on Windows save JSON with a BOM, which yajl rejects.
            if data.startswith(_UTF8_BOM):
                data = data[len(_UTF8_BOM) :]
        return data


def without_bom(stream: Readable) -> Readable:
    """``stream`` read past a leading UTF-8 byte order mark, which yajl rejects."""
    return _Reader(stream, None, None)


def iter_sources(raw: IO[bytes], max_uncompressed_bytes: int) -> Iterator[Source]:
    """The JSON documents of the upload in ``raw``.

    Args:
        raw: The upload, seekable, positioned anywhere.
        max_uncompressed_bytes: Cap on the bytes inflated from zip members.

    Yields:
        One source for a JSON upload; one per JSON member of a zip, in archive
        order.

    Raises:
        BadInput: A zip that cannot be read, or has encrypted members.
        PayloadTooLarge: The members to read inflate past the cap.
    """
    raw.seek(0)
    head = raw.read(4)
    raw.seek(0)
    if head not in _ZIP_MAGIC:
        yield Source(None, lambda counted: _open_plain(raw))
        return
    _check_directory_size(raw)
    try:
        archive = zipfile.ZipFile(raw)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        raise BadInput(f"Invalid zip file: {exc}") from None
    with archive:
        members = [info for info in archive.infolist() if is_json_member(info)]
        encrypted = next((info for info in members if info.flag_bits & 0x1), None)
        if encrypted is not None:
            raise BadInput(f"{encrypted.filename}: encrypted zip files are not supported")
        if sum(info.file_size for info in members) > max_uncompressed_bytes:
            raise PayloadTooLarge(TOO_LARGE)
        budget = _Budget(max_uncompressed_bytes)
        for info in members:
            yield Source(info.filename, _member_opener(archive, info, budget))


def is_json_member(info: zipfile.ZipInfo) -> bool:
    """Whether a zip entry is a JSON document to import."""
    if info.is_dir():
        return False
    parts = info.filename.replace("\\", "/").split("/")
    basename = parts[-1]
    # macOS zips carry resource forks as __MACOSX/…/._name.json: not JSON.
    if "__MACOSX" in parts or basename.startswith("."):
        return False
    return basename.lower().endswith(".json")


@contextmanager
def _open_plain(raw: IO[bytes]) -> Iterator[Readable]:
    raw.seek(0)
    # The caller owns `raw` and closes it after the pass.
    yield _Reader(raw, None, None)


def _member_opener(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget
) -> Callable[[bool], AbstractContextManager[Readable]]:
    @contextmanager
    def open_member(counted: bool) -> Iterator[Readable]:
        try:
            member = archive.open(info)
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as exc:
            # NotImplementedError: a compression method zipfile lacks.
            raise BadInput(f"{info.filename}: cannot read this zip member ({exc})") from None
        with member:
            yield _Reader(member, info.filename, budget if counted else None)

    return open_member


def _check_directory_size(raw: IO[bytes]) -> None:
    """Refuse a central directory too large to hold in memory, before zipfile reads it."""
    raw.seek(0, 2)
    size = raw.tell()
    tail_size = min(size, _END_RECORD_SIZE + _MAX_COMMENT)
    raw.seek(size - tail_size)
    tail = raw.read(tail_size)
    raw.seek(0)
    at = tail.rfind(_END_OF_DIRECTORY)
    if at < 0 or at + _END_RECORD_SIZE > len(tail):
        return  # Not a well-formed end record: zipfile rejects it next.
    (directory_size,) = struct.unpack_from("<I", tail, at + 12)
    # 0xFFFFFFFF defers to a Zip64 record: only archives far past any
    # upload limit need one.
    if directory_size > MAX_ZIP_DIRECTORY_BYTES:
        raise BadInput("The zip file has too many entries")
