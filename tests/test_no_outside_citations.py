"""Code cites only what a maintainer has: docs/contract.md, not files outside the repo.

The reference notes the project started from (the contract draft, notes on
LibreChat's server, recorded responses, practice notes) are not in the
repository; a comment pointing there sends a reader nowhere. Point at the
anchors of docs/contract.md instead (e.g. ``docs/contract.md#convos-fork``).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("app", "resolvers", "storage", "tests", "bench")
SKIPPED_DIRS = {"node_modules", "__pycache__", "static"}
# Spelled in pieces so this file does not cite them itself.
OUTSIDE = [
    "CONTRACT" + ".md",
    "librechat-" + "notes",
    "librechat-" + "responses",
    "shared/" + "reference",
    "gateway-" + "practices",
    "embedded-db-" + "notes",
    "conversations-" + "api",
]


CONTRACT = ROOT / "docs" / "contract.md"
_POINTER = re.compile(r"docs/contract\.md#([A-Za-z0-9_-]+)")


def _files() -> list[Path]:
    found: list[Path] = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and not SKIPPED_DIRS & set(path.relative_to(ROOT).parts):
                found.append(path)
    return found


def test_no_file_cites_a_reference_outside_the_repository() -> None:
    citations = []
    for path in _files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary fixtures
        for number, line in enumerate(text.splitlines(), 1):
            if any(name in line for name in OUTSIDE):
                citations.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert citations == [], "point these at docs/contract.md#...:\n" + "\n".join(citations)


def test_every_pointer_into_the_contract_names_an_anchor_it_has() -> None:
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', CONTRACT.read_text(encoding="utf-8")))
    broken = []
    for path in _files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            broken += [
                f"{path.relative_to(ROOT)}:{number}: #{anchor}"
                for anchor in _POINTER.findall(line)
                if anchor not in anchors
            ]
    assert broken == []


def test_the_scan_reaches_the_code() -> None:
    # A scan that found no files would pass for the wrong reason.
    names = {p.relative_to(ROOT).as_posix() for p in _files()}
    assert {"app/main.py", "resolvers/operations/fork.py", "storage/conversations.py"} <= names
