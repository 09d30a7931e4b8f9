"""Multipart bodies streamed to disk: what is kept, what is refused, and that
no temporary file outlives a failed parse."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.uploads import UploadLimits, spool_form
from resolvers.operations.errors import BadInput, PayloadTooLarge

BOUNDARY = "b0undary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
LIMITS = UploadLimits(max_file_bytes=1000, max_field_bytes=100, max_files=1, max_parts=4)


def part(name: str, data: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"


END = f"--{BOUNDARY}--\r\n".encode()


async def chunks(body: bytes, size: int = 7) -> AsyncIterator[bytes]:
    # Small chunks: boundaries and headers arrive split across them.
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_files_go_to_disk_and_fields_stay_in_memory(tmp_path: Path) -> None:
    body = part("note", b"hello") + part("file", b"[1, 2, 3]", "a.json") + END

    form = await spool_form(chunks(body), CONTENT_TYPE, LIMITS, tmp_path)

    assert form.fields == {"note": "hello"}
    upload = form.files["file"]
    assert (upload.filename, upload.size, upload.path.parent) == ("a.json", 9, tmp_path)
    with upload.open() as stream:
        assert stream.read() == b"[1, 2, 3]"
    form.discard()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (
            part("file", b"x" * 1001, "a.json") + END,
            PayloadTooLarge,
            "File exceeds the maximum allowed size",
        ),
        (part("note", b"x" * 101) + END, PayloadTooLarge, "Request body too large"),
        (
            part("file", b"1", "a") + part("other", b"2", "b") + END,
            BadInput,
            "Only one file per request",
        ),
        (
            b"".join(part(f"f{i}", b"1") for i in range(5)) + END,
            BadInput,
            "Too many parts in the form (at most 4)",
        ),
        (
            part("file", b"[1, 2", "a.json"),
            BadInput,
            "Invalid multipart body: it ends before its closing boundary",
        ),
        (
            b"--" + BOUNDARY.encode() + b"\r\nContent-Type: text/plain\r\n\r\nx\r\n" + END,
            BadInput,
            'A form part has no Content-Disposition "name"',
        ),
        (b"no multipart here", BadInput, "Invalid multipart body"),
    ],
    ids=[
        "file-too-large",
        "fields-too-large",
        "two-files",
        "too-many-parts",
        "truncated",
        "no-name",
        "garbage",
    ],
)
async def test_refusals_leave_no_temporary_file(
    tmp_path: Path, body: bytes, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as refused:
        await spool_form(chunks(body), CONTENT_TYPE, LIMITS, tmp_path)

    assert str(refused.value).startswith(message)
    assert list(tmp_path.iterdir()) == []


async def test_a_body_that_is_not_multipart_is_refused_unread(tmp_path: Path) -> None:
    read = []

    async def body() -> AsyncIterator[bytes]:
        read.append(1)
        yield b"{}"

    with pytest.raises(BadInput, match="Expected a multipart/form-data body"):
        await spool_form(body(), "application/json", LIMITS, tmp_path)
    assert read == []
