"""A zip archive written as a stream of byte chunks, never held whole.

``zipfile`` writes to an unseekable file by putting each member's sizes in a
data descriptor after its data; the sink below is such a file, and each call
hands back what was written since the last one. Only the central directory
(one small record per member, written at the end) stays in memory.
"""

from __future__ import annotations

import zipfile
from datetime import datetime

# The range a zip header's DOS date can hold (years 1980 to 2107); a stored
# time outside it (an imported file's dates are the user's) is clamped, or
# zipfile fails with struct.error in the middle of the stream.
_ZIP_FIRST = (1980, 1, 1, 0, 0, 0)
_ZIP_LAST = (2107, 12, 31, 23, 59, 58)


class _Sink:
    """A write-only file whose contents are taken out piece by piece."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class ZipStream:
    """Add members, take the bytes written so far, close to take the rest."""

    def __init__(self, compresslevel: int = 6) -> None:
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(
            self._sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
        )

    def add(self, name: str, data: bytes, modified: datetime | None = None) -> None:
        when = modified.timetuple()[:6] if modified is not None else _ZIP_FIRST
        info = zipfile.ZipInfo(name, date_time=min(max(when, _ZIP_FIRST), _ZIP_LAST))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        self._zip.writestr(info, data)

    def take(self) -> bytes:
        return self._sink.take()

    def close(self) -> bytes:
        self._zip.close()
        return self._sink.take()
