"""The JSON documents inside an upload: the file itself, or the members of a zip.

A zip is recognised by its magic bytes (uploads arrive under any name). Its
members ending in ``.json`` are inflated **once**, one after the other, into
one anonymous spool file on disk (:func:`open_upload`); every later read
(detection, the depth check, the validation and write passes) reads that
spool. Inflating is what a zip bomb makes expensive, so an import pays it
once, however many passes read the JSON. Folders, macOS metadata
(``__MACOSX/``, ``._*``) and other files (a data export's ``chat.html``,
images) are skipped without being decompressed.

The zip bomb guard lives here: the uncompressed size of the members is
capped, first from the sizes the archive declares (before inflating a byte),
then by counting the bytes actually inflated into the spool. The central
directory is bounded too, because ``zipfile`` holds one object per entry in
memory. The spool is an unnamed temporary file: the kernel frees it when it
is closed, or when the process dies.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
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
# Bytes inflated per read into the spool: large enough that the copy costs
# nothing next to inflating, small enough to overshoot the cap by little.
_INFLATE_CHUNK = 1024 * 1024

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
        open: Opens the document for reading from its start (any number of
            times, one reader at a time).
    """

    name: str | None
    open: Callable[[], AbstractContextManager[Readable]]


class Upload:
    """The JSON documents of one upload, ready to be read by every pass.

    Made by :func:`open_upload`; close it (or use it as a context manager)
    to release the upload and the spool.
    """

    def __init__(self, sources: Sequence[Source], resources: ExitStack) -> None:
        self.sources = tuple(sources)
        self._resources = resources

    def close(self) -> None:
        self._resources.close()

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Closed however the block ends; an exception goes on unchanged.
        self.close()


def open_upload(
    open_stream: Callable[[], IO[bytes]],
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED_BYTES,
    temp_dir: Path | None = None,
) -> Upload:
    """The JSON documents of an upload; a zip's members inflated once, to disk.

    Args:
        open_stream: Opens the upload (seekable); it stays open until the
            result is closed.
        max_uncompressed_bytes: Cap on the bytes inflated from zip members.
        temp_dir: Where the spool of inflated members lives; None = the
            system's temp dir.

    Returns:
        One source for a JSON upload; one per JSON member of a zip, in archive
        order.

    Raises:
        BadInput: A zip that cannot be read, is damaged, or has encrypted
            members.
        PayloadTooLarge: The JSON members inflate past the cap (nothing past
            it is inflated).
    """
    resources = ExitStack()
    try:
        raw = resources.enter_context(open_stream())
        raw.seek(0)
        head = raw.read(4)
        raw.seek(0)
        if head in _ZIP_MAGIC:
            # Closed by `resources`, when the upload is.
            spool = resources.enter_context(tempfile.TemporaryFile(dir=temp_dir))  # noqa: SIM115
            sources = _inflate_members(raw, spool, max_uncompressed_bytes)
            # The spool holds everything now: the upload itself is not read again.
            raw.close()
        else:
            sources = [Source(None, lambda: _open_plain(raw))]
    except BaseException:
        resources.close()
        raise
    return Upload(sources, resources)


class _Budget:
    """Bytes of zip members left to inflate."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise PayloadTooLarge(TOO_LARGE)


class _WithoutBom:
    """A stream read past a leading UTF-8 byte order mark, which yajl rejects."""

    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self._at_start = True

    def read(self, size: int = -1, /) -> bytes:
        data = self._raw.read(size)
        if self._at_start and data:
            self._at_start = False
            # Editors on Windows save JSON with a BOM.
            if data.startswith(_UTF8_BOM):
                data = data[len(_UTF8_BOM) :]
        return data


class _Slice:
    """One member's bytes in the spool, read by offset (the file's position is shared)."""

    def __init__(self, fd: int, start: int, length: int) -> None:
        self._fd = fd
        self._at = start
        self._end = start + length

    def read(self, size: int = -1, /) -> bytes:
        left = self._end - self._at
        if size < 0 or size > left:
            size = left
        if size <= 0:
            return b""
        data = os.pread(self._fd, size, self._at)
        self._at += len(data)
        return data


def without_bom(stream: Readable) -> Readable:
    """``stream`` read past a leading UTF-8 byte order mark, which yajl rejects."""
    return _WithoutBom(stream)


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
    # The upload owns `raw` and closes it.
    yield _WithoutBom(raw)


def _inflate_members(raw: IO[bytes], spool: IO[bytes], max_uncompressed_bytes: int) -> list[Source]:
    """Inflate every JSON member of the zip in ``raw`` into ``spool``, counted."""
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
        # Declared sizes first: an honest bomb is refused before a byte is inflated.
        if sum(info.file_size for info in members) > max_uncompressed_bytes:
            raise PayloadTooLarge(TOO_LARGE)
        budget = _Budget(max_uncompressed_bytes)
        sources: list[Source] = []
        for info in members:
            start = spool.tell()
            _inflate(archive, info, spool, budget)
            sources.append(Source(info.filename, _slice_opener(spool, start, spool.tell() - start)))
    spool.flush()
    return sources


def _inflate(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, spool: IO[bytes], budget: _Budget
) -> None:
    try:
        member = archive.open(info)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as exc:
        # NotImplementedError: a compression method zipfile lacks.
        raise BadInput(f"{info.filename}: cannot read this zip member ({exc})") from None
    with member:
        while True:
            try:
                data = member.read(_INFLATE_CHUNK)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise BadInput(f"{info.filename}: the zip file is damaged ({exc})") from None
            if not data:
                return
            # Counted as inflated: a member lying about its size stops here.
            budget.spend(len(data))
            spool.write(data)


def _slice_opener(
    spool: IO[bytes], start: int, length: int
) -> Callable[[], AbstractContextManager[Readable]]:
    @contextmanager
    def open_member() -> Iterator[Readable]:
        yield _WithoutBom(_Slice(spool.fileno(), start, length))

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
