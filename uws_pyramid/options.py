"""Declared ini options: each key once (name, kind, default, meaning), one parser for all.

The core's ``uws.*`` settings and every plugin's options are lists of ``Option``; ``read``
parses one against the ini's values and names the key of a bad value, and ``markdown_table``
writes README's settings tables from the same declarations (``make docs``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from .errors import ConfigurationError

T = TypeVar("T")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Every spelling of a boolean an ini may use (case-insensitive).
BOOLEANS = {
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}


@dataclass(frozen=True)
class Kind(Generic[T]):
    """How a value is parsed, and what a bad value's message says was expected."""

    parse: Callable[[str], T]
    expected: str


@dataclass(frozen=True)
class Option(Generic[T]):
    """One ini key: ``key`` without the prefix of its section (``uws.``, ``uws.storage.``)."""

    key: str
    kind: Kind[T]
    default: T
    doc: str
    shown: str | None = None  # the default as the docs show it, when not the value itself
    name: str = ""  # the attribute that holds the value, when not the key's own (``field``)

    @property
    def field(self) -> str:
        """The attribute that holds the value: ``wait.max`` -> ``wait_max`` unless named."""
        return self.name or self.key.replace(".", "_")

    def read(self, values: Mapping[str, Any], prefix: str = "", section: str = "") -> T:
        """The parsed value of ``prefix + key`` in ``values``; the default if unset or blank.
        A bad value's message names ``section + prefix + key`` (a plugin's options come
        without their ``uws.storage.`` or ``uws.manager.``: pass it as ``section``)."""
        raw = values.get(prefix + self.key)
        if raw is None or str(raw).strip() == "":
            return self.default
        try:
            return self.kind.parse(str(raw).strip())
        except (ValueError, TypeError, KeyError):
            raise ConfigurationError(
                f"{section}{prefix}{self.key} = {raw!r}: expected {self.kind.expected}"
            ) from None

    def shown_default(self) -> str:
        if self.shown is not None:
            return self.shown
        value = self.default
        if isinstance(value, bool):
            return f"`{str(value).lower()}`"
        empty = value is None or (isinstance(value, Sized) and len(value) == 0)
        return "(none)" if empty else f"`{value}`"


def read_all(
    options: Iterable[Option[Any]], values: Mapping[str, Any], prefix: str = "", section: str = ""
) -> dict[str, Any]:
    """Every option's value by its field name (``section``: as in ``Option.read``). An
    unknown ``prefix`` key is refused: a misspelt key would otherwise keep its default."""
    declared = list(options)
    known = {prefix + option.key for option in declared}
    for key in values:
        if key.startswith(prefix) and key not in known:
            listed = ", ".join(sorted(section + k for k in known))
            hint = f"known: {listed}; " if len(known) <= 12 else ""
            raise ConfigurationError(
                f"{section}{key}: unknown setting ({hint}see README, 'Settings')"
            )
    return {option.field: option.read(values, prefix, section) for option in declared}


def markdown_table(options: Iterable[Option[Any]], prefix: str = "") -> str:
    """The README table of ``options``: key, default, meaning."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    rows += [f"| `{prefix}{o.key}` | {o.shown_default()} | {o.doc} |" for o in options]
    return "\n".join(rows) + "\n"


# -- kinds ---------------------------------------------------------------------------------


def _at_least(minimum: float, cast: Callable[[str], T]) -> Callable[[str], T]:
    def parse(text: str) -> T:
        value = cast(text)
        if not value >= minimum:  # type: ignore[operator]
            raise ValueError(text)
        return value

    return parse


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def _size(text: str) -> int:
    """Bytes, with an optional K, M or G suffix (powers of 1024)."""
    factor = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:].upper(), 1)
    value = int(text[:-1] if factor > 1 else text) * factor
    if value <= 0:
        raise ValueError(text)
    return value


def _networks(text: str) -> tuple[Network, ...]:
    """Networks and addresses separated by spaces or commas (an address is a /32 or /128)."""
    return tuple(
        ipaddress.ip_network(item, strict=False) for item in text.replace(",", " ").split()
    )


def _mapping(text: str) -> dict[str, str]:
    """Lines of ``key = value`` (or ``key: value``)."""
    pairs = {}
    for line in text.splitlines():
        if line.strip():
            key, sep, value = line.replace(":", "=", 1).partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ValueError(line)
            pairs[key.strip()] = value.strip()
    return pairs


def matching(pattern: str, expected: str) -> Kind[str]:
    """Text that matches the regular expression ``pattern`` entirely."""
    compiled = re.compile(pattern)

    def parse(text: str) -> str:
        if not compiled.fullmatch(text):
            raise ValueError(text)
        return text

    return Kind(parse, expected)


def choice(*names: str) -> Kind[str]:
    def parse(text: str) -> str:
        if text not in names:
            raise ValueError(text)
        return text

    return Kind(parse, " or ".join(names))


TEXT = Kind(str, "text")
PATH = Kind(Path, "a path")
BOOLEAN = Kind(lambda text: BOOLEANS[text.lower()], "a boolean (true/false, yes/no, on/off, 1/0)")
SECONDS = Kind(_at_least(0, int), "seconds (an integer >= 0)")
INTERVAL = Kind(_positive_float, "seconds (a number > 0)")
COUNT = Kind(_at_least(0, int), "an integer >= 0")
POSITIVE = Kind(_at_least(1, int), "an integer > 0")
SIZE = Kind(_size, "bytes, with an optional K, M or G suffix (e.g. 128M)")
NETWORKS = Kind(_networks, "IP networks (10.0.0.0/8 ::1)")
MAPPING = Kind(_mapping, "lines of 'name = value'")


def at_least(minimum: int) -> Kind[int]:
    return Kind(_at_least(minimum, int), f"an integer >= {minimum}")
