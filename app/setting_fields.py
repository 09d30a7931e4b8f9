"""How a :class:`app.settings.Settings` field is declared, read and documented.

``setting()`` puts a field's variable name, parser, reason and README wording
into the dataclass field's metadata, so ``Settings.from_env`` and the README
check read them from one place. The parsers get the stripped, non-blank value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar


class SettingsError(ValueError):
    """A setting is missing or malformed; the process must not start."""


T = TypeVar("T")
# (variable name, its stripped non-empty value, the default) -> the value.
Parser = Callable[[str, str, T], T]


def _converted(name: str, raw: str, convert: Callable[[str], T], what: str) -> T:
    """``convert(raw)``, or a SettingsError naming the variable and its value."""
    try:
        return convert(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be {what}, got {raw!r}") from exc


def parse_int(name: str, raw: str, default: object) -> int:
    return _converted(name, raw, int, "an integer")


def parse_limiter(name: str, raw: str, default: int) -> int:
    # LibreChat reads its limiter values as `parseInt(env) || default`.
    return parse_int(name, raw, default) or default


def parse_float(name: str, raw: str, default: object) -> float:
    return _converted(name, raw, float, "a number")


def parse_bool(name: str, raw: str, default: object) -> bool:
    return raw.lower() in {"1", "true", "yes", "on"}


def parse_str(name: str, raw: str, default: object) -> str:
    return raw


def parse_lower(name: str, raw: str, default: object) -> str:
    return raw.lower()


def parse_path(name: str, raw: str, default: object) -> Path:
    return Path(raw)


def parse_csv(name: str, raw: str, default: object) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


_PARSERS: Final[tuple[tuple[type, Parser[Any]], ...]] = (
    (bool, parse_bool),  # before int: a bool is an int
    (int, parse_int),
    (float, parse_float),
    (str, parse_str),
    (Path, parse_path),
    (tuple, parse_csv),
)


@dataclass(frozen=True)
class EnvSetting:
    """How one :class:`Settings` field is read and documented."""

    names: tuple[str, ...]  # the documented variable first, then accepted aliases
    reason: str
    parse: Parser[Any]
    production: object  # the default under CONVOS_ENV=production; None = the same
    shown: str | None  # the README's words for the default, when its value would mislead

    def read(self, env: Mapping[str, str], default: Any) -> Any:
        """The first non-blank variable of ``names`` parsed, else ``default``."""
        for name in self.names:
            raw = env.get(name)
            if raw is not None and raw.strip():
                return self.parse(name, raw.strip(), default)
        return default


def setting(
    name: str,
    default: T,
    reason: str,
    *,
    parse: Parser[T] | None = None,
    aliases: tuple[str, ...] = (),
    production: T | None = None,
    shown: str | None = None,
) -> T:
    """A :class:`Settings` field read from the variable ``name`` (see the module docstring)."""
    if parse is None:
        parse = next((p for kind, p in _PARSERS if isinstance(default, kind)), None)
        if parse is None:
            raise TypeError(f"{name}: no parser for a default of {default!r}; pass parse=")
    spec = EnvSetting((name, *aliases), reason, parse, production, shown)
    return field(default=default, metadata={"env": spec})


def env_setting(f: Field[Any]) -> EnvSetting:
    """The :class:`EnvSetting` of a :class:`Settings` field."""
    spec = f.metadata.get("env")
    if not isinstance(spec, EnvSetting):
        raise TypeError(f"Settings.{f.name} is not declared with setting()")
    return spec


def _show(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(value) or "empty"
    return str(value) if value != "" else "empty"


def documented_default(f: Field[Any]) -> str:
    """The default of a field as the README's configuration table shows it."""
    spec = env_setting(f)
    if spec.shown is not None:
        return spec.shown
    text = _show(f.default)
    if spec.production is not None:
        text += f" ({_show(spec.production)} in production)"
    return text
