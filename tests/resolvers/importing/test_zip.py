"""Zip uploads: split ChatGPT exports and full data exports, with a bomb guard."""

from __future__ import annotations

import io
import zipfile

import pytest

from app.http_errors import body_for
from resolvers.importing import ImportFormat, validate_import
from resolvers.operations.errors import BadInput, PayloadTooLarge
from tests.utils.imports import FIXTURES, import_all, open_bytes

SPLIT = FIXTURES / "chatgpt_split"


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            if name.endswith("/"):
                archive.writestr(zipfile.ZipInfo(name), b"")
            else:
                archive.writestr(name, data)
    return buffer.getvalue()


def _split_export() -> bytes:
    """A data export as ChatGPT ships it, plus the junk macOS adds when re-zipping."""
    return _zip(
        {
            "export/": b"",
            "export/conversations-000.json": (SPLIT / "conversations-000.json").read_bytes(),
            "export/conversations-001.json": (SPLIT / "conversations-001.json").read_bytes(),
            "export/user.json": (SPLIT / "user.json").read_bytes(),
            "export/message_feedback.json": (SPLIT / "message_feedback.json").read_bytes(),
            "export/chat.html": (SPLIT / "chat.html").read_bytes(),
            "__MACOSX/export/._conversations-000.json": b"\x00\x05\x16\x07 not json",
            "export/.DS_Store": b"\x00\x00\x00\x01Bud1",
        }
    )


def test_every_split_part_is_imported_in_archive_order() -> None:
    parsed = import_all(open_bytes(_split_export()))

    assert [p.conversation["title"] for p in parsed] == [
        "Split part one, first",
        "Split part one, second",
        "Split part two",
    ]
    assert [m["text"] for m in parsed[2].messages] == ["Third question?", "Third answer."]


def test_other_json_files_of_a_data_export_are_skipped_and_reported() -> None:
    summary = validate_import(open_bytes(_split_export()))

    assert (summary.conversations, summary.messages) == (3, 6)
    assert summary.formats == (ImportFormat.CHATGPT,)
    assert summary.skipped_files == ("export/user.json", "export/message_feedback.json")


def test_a_zip_is_recognised_by_its_bytes_whatever_its_members_are_called() -> None:
    data = _zip({"CONVERSATIONS.JSON": (FIXTURES / "claude.json").read_bytes()})

    summary = validate_import(open_bytes(data))

    assert summary.formats == (ImportFormat.CLAUDE,)
    assert summary.conversations == 2


def test_a_zip_of_several_formats_imports_them_all() -> None:
    data = _zip(
        {
            "a.json": (FIXTURES / "librechat_tree.json").read_bytes(),
            "b.json": (FIXTURES / "chatbot_ui.json").read_bytes(),
        },
        compression=zipfile.ZIP_STORED,
    )

    summary = validate_import(open_bytes(data))

    assert summary.formats == (ImportFormat.LIBRECHAT, ImportFormat.CHATBOT_UI)
    assert summary.conversations == 3


def test_a_zip_without_any_export_says_so_and_names_what_it_skipped() -> None:
    data = _zip({"user.json": b'{"id": "u"}', "notes.txt": b"hello"})

    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(data))

    assert caught.value.message == "No conversations found in file (not an export: user.json)"


def test_an_error_inside_a_member_names_the_member() -> None:
    bad = (FIXTURES / "malformed" / "chatgpt_mapping_list.json").read_bytes()
    data = _zip(
        {
            "conversations-000.json": (SPLIT / "conversations-000.json").read_bytes(),
            "conversations-001.json": bad,
        }
    )

    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(data))

    assert caught.value.message == (
        'conversations-001.json: Conversation 2 ("Broken mapping"): mapping must be an object'
    )


def test_invalid_json_inside_a_member_names_the_member() -> None:
    data = _zip({"part.json": b'[{"title": "x", "mapping": {'})

    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(data))

    assert caught.value.message.startswith("part.json: Invalid JSON: parse error: premature EOF")


def test_members_inflating_past_the_cap_are_refused_before_reading() -> None:
    # 2 MB of JSON whitespace compresses to a few kilobytes.
    bomb = _zip({"conversations.json": b"[" + b" " * 2_000_000 + b"]"})
    assert len(bomb) < 20_000

    with pytest.raises(PayloadTooLarge) as caught:
        validate_import(open_bytes(bomb), max_uncompressed_bytes=1_000_000)

    assert body_for(caught.value.code, caught.value.message) == {
        "message": "File exceeds the maximum allowed size"
    }


def test_the_cap_counts_every_member_together() -> None:
    part = b"[" + b" " * 600_000 + b"]"
    data = _zip({"a.json": part, "b.json": part})

    with pytest.raises(PayloadTooLarge):
        validate_import(open_bytes(data), max_uncompressed_bytes=1_000_000)


def test_skipped_members_do_not_count_against_the_cap() -> None:
    data = _zip(
        {
            "conversations.json": (FIXTURES / "claude.json").read_bytes(),
            "dalle/image.png": b"\x89PNG" + b"\x00" * 2_000_000,
        }
    )

    assert validate_import(open_bytes(data), max_uncompressed_bytes=1_000_000).conversations == 2


def test_a_member_whose_checksum_does_not_match_is_bad_input() -> None:
    data = bytearray(_zip({"conversations.json": (FIXTURES / "claude.json").read_bytes()}))
    entry = data.index(b"PK\x01\x02")
    # The CRC-32 the central directory records for the member.
    data[entry + 16 : entry + 20] = b"\x00\x00\x00\x00"

    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(bytes(data)))

    assert caught.value.message == (
        "conversations.json: the zip file is damaged (Bad CRC-32 for file 'conversations.json')"
    )


def test_a_zip_whose_directory_is_overwritten_is_bad_input() -> None:
    data = _zip({"conversations.json": b"[]"})
    end = data.rindex(b"PK\x05\x06")
    directory = int.from_bytes(data[end + 16 : end + 20], "little")
    damaged = data[:directory] + b"\xff" * 8 + data[directory + 8 :]

    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(damaged))

    assert caught.value.message == "Invalid zip file: Bad magic number for central directory"


def test_a_truncated_zip_is_bad_input() -> None:
    data = _split_export()

    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(data[: len(data) // 2]))

    assert caught.value.message.startswith("Invalid zip file")


def test_an_encrypted_member_is_refused() -> None:
    data = bytearray(_zip({"conversations.json": b"[]"}))
    # Set the "encrypted" flag in the central directory entry, as zip tools
    # writing a password-protected archive do.
    entry = data.index(b"PK\x01\x02")
    data[entry + 8] |= 0x01

    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(bytes(data)))

    assert caught.value.message == "conversations.json: encrypted zip files are not supported"


def test_a_central_directory_too_large_to_hold_is_refused() -> None:
    data = bytearray(_zip({"conversations.json": b"[]"}))
    end = data.rindex(b"PK\x05\x06")
    # Claim a 64 MiB central directory, as an archive of millions of entries would.
    data[end + 12 : end + 16] = (64 * 1024 * 1024).to_bytes(4, "little")

    with pytest.raises(BadInput) as caught:
        validate_import(open_bytes(bytes(data)))

    assert caught.value.message == "The zip file has too many entries"
