"""Reading parsed JSON values of an expected shape, naming the field that is wrong.

Converters read one conversation (a ``dict`` from ijson) through these helpers.
A value of the wrong type raises :class:`Problem` with the field's path
(``mapping.u1.message.content``); the pass that reads the file adds which
conversation it was and turns it into ``BadInput``. A missing or ``null``
optional field is not a problem: the helpers return ``None`` and the caller
picks the default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

# A path segment longer than this is cut: keys come from the file, and an error
# message must stay readable however long a key is.
_MAX_SEGMENT = 64
# Paths deeper than this are shown as their head and tail; a reply chain in a
# LibreChat tree can be thousands of levels deep.
_HEAD, _TAIL = 2, 4

T = TypeVar("T")


class Path:
    """Where a value sits inside one conversation, built lazily.

    Each step is O(1) (a link to its parent), so walking a deep tree costs no
    string building; the text is only rendered when a problem is reported.
    """

    __slots__ = ("_depth", "_parent", "_segment")

    def __init__(self, parent: Path | None = None, segment: str = "") -> None:
        self._parent = parent
        self._segment = segment
        self._depth: int = 0 if parent is None else parent._depth + 1

    def key(self, name: str) -> Path:
        """The path of ``name`` inside the object at this path."""
        if len(name) > _MAX_SEGMENT:
            name = name[:_MAX_SEGMENT] + "…"
        return Path(self, name if self._parent is None else "." + name)

    def index(self, position: int) -> Path:
        """The path of item ``position`` (0-based) of the list at this path."""
        return Path(self, f"[{position}]")

    @property
    def is_root(self) -> bool:
        """True for the conversation itself."""
        return self._parent is None

    def __str__(self) -> str:
        segments: list[str] = []
        node: Path | None = self
        while node is not None and node._parent is not None:
            segments.append(node._segment)
            node = node._parent
        # One step per key, with its indexes: "children[0]" is shown or elided whole.
        steps: list[str] = []
        for segment in reversed(segments):
            if segment.startswith("[") and steps:
                steps[-1] += segment
            else:
                steps.append(segment)
        if len(steps) > _HEAD + _TAIL + 1:
            hidden = len(steps) - _HEAD - _TAIL
            steps = [*steps[:_HEAD], f"…({hidden} levels)…", *steps[-_TAIL:]]
        return "".join(steps)


ROOT = Path()


class Problem(Exception):
    """One malformed field of one conversation.

    The message reads as a sentence about the field (``"mapping must be an
    object"``); the import pass prefixes the conversation it belongs to.
    """

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"{path} {what}" if not path.is_root else what)
        self.path = path
        self.what = what


def title_reader(key: str) -> Callable[[object], str | None]:
    """A format's ``title_of``: the item's ``key`` when it is a string, to name it in errors."""

    def title_of(item: object) -> str | None:
        title = item.get(key) if isinstance(item, dict) else None
        return title if isinstance(title, str) else None

    return title_of


def kind_of(value: object) -> str:
    """A JSON type name for error messages ("a list", "a string", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def expect_object(value: object, path: Path) -> dict[str, Any]:
    """``value`` itself, which must be an object."""
    if not isinstance(value, dict):
        raise Problem(path, "must be an object")
    return value


def each_object(items: list[Any], path: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    """The items of the list at ``path``, each of which must be an object, with their paths."""
    for position, raw in enumerate(items):
        item_path = path.index(position)
        yield expect_object(raw, item_path), item_path


def optional_of(
    obj: Mapping[str, Any],
    key: str,
    path: Path,
    kind: type[T] | tuple[type[T], ...],
    what: str,
) -> T | None:
    """``obj[key]``, None when missing or null, else a Problem ``what`` unless a ``kind``."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, kind):
        raise Problem(path.key(key), what)
    return value


def _required(value: T | None, key: str, path: Path) -> T:
    if value is None:
        raise Problem(path.key(key), "is required")
    return value


def optional_object(obj: Mapping[str, Any], key: str, path: Path) -> dict[str, Any] | None:
    """``obj[key]`` as an object, or None when missing or null."""
    return optional_of(obj, key, path, dict, "must be an object")


def required_object(obj: Mapping[str, Any], key: str, path: Path) -> dict[str, Any]:
    """``obj[key]``, which must be present and an object."""
    return _required(optional_object(obj, key, path), key, path)


def optional_list(obj: Mapping[str, Any], key: str, path: Path) -> list[Any] | None:
    """``obj[key]`` as a list, or None when missing or null."""
    return optional_of(obj, key, path, list, "must be a list")


def required_list(obj: Mapping[str, Any], key: str, path: Path) -> list[Any]:
    """``obj[key]``, which must be present and a list."""
    return _required(optional_list(obj, key, path), key, path)


def optional_str(obj: Mapping[str, Any], key: str, path: Path) -> str | None:
    """``obj[key]`` as a string, or None when missing or null."""
    return optional_of(obj, key, path, str, "must be a string")


def required_str(obj: Mapping[str, Any], key: str, path: Path) -> str:
    """``obj[key]``, which must be present and a string."""
    return _required(optional_str(obj, key, path), key, path)


def optional_number(
    obj: Mapping[str, Any], key: str, path: Path, what: str = "must be a number"
) -> float | None:
    """``obj[key]`` as a JSON number (an int stays an int), or None when missing or null."""
    # bool is an int subclass in Python; JSON true is not a number.
    if isinstance(obj.get(key), bool):
        raise Problem(path.key(key), what)
    return optional_of(obj, key, path, (int, float), what)


def optional_bool(obj: Mapping[str, Any], key: str, path: Path) -> bool | None:
    """``obj[key]`` as a boolean, or None when missing or null."""
    return optional_of(obj, key, path, bool, "must be true or false")
