"""Job descriptions: immutable, self-checking models of a job type, its parameters and results."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..execution.wrapper import reserved  # stdlib only: no import cycle
from .datatypes import FILE, NOT_XML, NUMERIC, STRING, TYPES, describe, parse

log = logging.getLogger(__name__)

CONTROL_NAMES = frozenset(
    {"PHASE", "RUNID", "EXECUTIONDURATION", "DESTRUCTION", "ACTION", "QUOTE", "WAIT"}
)
PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Job type names end up in URLs and file names, so no dots, slashes or spaces.
JOB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}\Z")
RESULT_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
OPTION_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
MIME_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+(\s*;.*)?\Z")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def _clean_text(owner: object, label: str) -> None:
    """Strip a free-text field (as the WADL reader does) and refuse what XML cannot hold."""
    text = getattr(owner, label)
    if NOT_XML.search(text):
        raise ValueError(f"{label} {text[:40]!r} has control characters")
    object.__setattr__(owner, label, text.strip())


class FrozenOptions(Mapping[str, str]):
    """A read-only, hashable mapping that keeps the declaration order of the manager options."""

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        self._items: dict[str, str] = dict(items)

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(self._items.items()))

    def __repr__(self) -> str:
        return f"FrozenOptions({self._items!r})"


@dataclass(frozen=True)
class ParameterSpec:
    """One job parameter. ``min``, ``max`` and ``choices`` are kept as the text of the description."""

    name: str
    type: str = STRING
    required: bool = False
    default: str | None = None
    description: str = ""
    min: str | None = None
    max: str | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""
    ucd: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        for label in ("description", "unit", "ucd"):
            _clean_text(self, label)
        if not PARAMETER_NAME.match(self.name):
            raise ValueError(f"parameter name {self.name!r} is not an identifier")
        if self.name.upper() in CONTROL_NAMES:
            raise ValueError(f"parameter name {self.name!r} is a reserved UWS name")
        if reserved(self.name):
            raise ValueError(f"parameter name {self.name!r} is reserved for the job's environment")
        if self.type not in TYPES:
            raise ValueError(
                f"parameter {self.name}: unknown type {self.type!r} (use one of {', '.join(TYPES)})"
            )
        self._check_bounds()
        if self.choices:
            if self.type == FILE:
                raise ValueError(f"parameter {self.name}: a file parameter cannot have choices")
            if len(set(self.choices)) != len(self.choices):
                raise ValueError(f"parameter {self.name}: duplicate choices")
            for choice in self.choices:
                self._check_own(choice, "choice")
        if self.default is not None:
            self._check_own(self.default, "default")

    @property
    def expected(self) -> str:
        """What a valid value looks like, in words for an error message."""
        return describe(self.type, self.min, self.max, self.choices)

    def check(self, value: str) -> None:
        """Raise ValueError unless ``value`` is acceptable for this parameter."""
        parsed: Any = parse(self.type, value)
        if self.choices and all(parse(self.type, c) != parsed for c in self.choices):
            raise ValueError("not one of the choices")
        if self.min is not None and parsed < parse(self.type, self.min):
            raise ValueError("below the minimum")
        if self.max is not None and parsed > parse(self.type, self.max):
            raise ValueError("above the maximum")

    def _check_bounds(self) -> None:
        bounds = {k: v for k, v in (("min", self.min), ("max", self.max)) if v is not None}
        if bounds and self.type not in NUMERIC:
            raise ValueError(f"parameter {self.name}: min/max only apply to numeric types")
        parsed: dict[str, Any] = {}
        for key, text in bounds.items():
            try:
                parsed[key] = parse(self.type, text)
            except ValueError as exc:
                raise ValueError(f"parameter {self.name}: {key} {text!r} is {exc}") from None
        if len(parsed) == 2 and parsed["min"] > parsed["max"]:
            raise ValueError(
                f"parameter {self.name}: min {self.min} is greater than max {self.max}"
            )

    def _check_own(self, value: str, what: str) -> None:
        try:
            self.check(value)
        except ValueError:
            raise ValueError(
                f"parameter {self.name}: {what} {value!r} is not valid, expected {self.expected}"
            ) from None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "default": self.default,
            "description": self.description,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices),
            "unit": self.unit,
            "ucd": self.ucd,
        }


def safe_relative(path: str) -> bool:
    """Whether ``path`` names something inside the job's working directory: relative, no
    ``..``, no control characters (results and manifests name files with it)."""
    parts = path.replace("\\", "/").split("/")
    return bool(path) and not (
        path.startswith(("/", "~")) or ".." in parts or _CONTROL_CHARS.search(path)
    )


def is_pattern(default: str) -> bool:
    """Whether a result's file name is a glob, which yields one result per matching file."""
    return any(c in default for c in "*?[")


@dataclass(frozen=True)
class ResultSpec:
    """A declared result; ``default`` is a file name or glob in the job's working directory.
    ``required``: the job is an ERROR if it ends without it. ``role``: what the result is to
    the job (provenance; OPUS's ``role``)."""

    id: str
    mime_type: str = "text/plain"
    default: str = ""
    description: str = ""
    required: bool = False
    role: str = ""

    def __post_init__(self) -> None:
        _clean_text(self, "description")
        _clean_text(self, "role")
        if not RESULT_ID.match(self.id):
            raise ValueError(f"result id {self.id!r} is not a valid name")
        if not MIME_TYPE.match(self.mime_type):
            raise ValueError(f"result {self.id}: {self.mime_type!r} is not a media type")
        # Results are collected from the working directory: a path leaving it would expose
        # other files of the server host.
        if self.default and not safe_relative(self.default):
            raise ValueError(
                f"result {self.id}: default {self.default!r} must be a relative file name or glob"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "mime_type": self.mime_type,
            "default": self.default,
            "description": self.description,
            "required": self.required,
            "role": self.role,
        }


@dataclass(frozen=True)
class UsedSpec:
    """An entity a job uses (OPUS's ``Used`` group), for provenance: ``ref`` names the
    parameter it comes from, ``default`` an entity id, ``url`` where it is (``file://``: a
    file of the job)."""

    name: str
    ref: str = ""
    description: str = ""
    role: str = ""
    multiplicity: str = "1"
    default: str = ""
    content_type: str = ""
    url: str = ""

    def __post_init__(self) -> None:
        for label in ("description", "role", "multiplicity", "default", "content_type", "url"):
            _clean_text(self, label)
        if not PARAMETER_NAME.match(self.name):
            raise ValueError(f"used entity name {self.name!r} is not an identifier")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ref": self.ref,
            "description": self.description,
            "role": self.role,
            "multiplicity": self.multiplicity,
            "default": self.default,
            "content_type": self.content_type,
            "url": self.url,
        }


def _check_seconds(label: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"{label} must be a non-negative number of seconds, not {value!r}")


@dataclass(frozen=True)
class JobDescription:
    """A job type. Durations are seconds; ``destruction`` counts from the job's creation."""

    name: str
    description: str = ""
    parameters: tuple[ParameterSpec, ...] = ()
    results: tuple[ResultSpec, ...] = ()
    execution_duration: int | None = None
    max_execution_duration: int | None = None
    quote: int | None = None
    destruction: int | None = None
    options: Mapping[str, str] = field(default_factory=FrozenOptions)
    version: str = ""
    #: Entities the job uses (provenance), and what describes the activity (OPUS's doculink,
    #: type, subtype, contact_name, contact_email).
    used: tuple[UsedSpec, ...] = ()
    info: Mapping[str, str] = field(default_factory=FrozenOptions)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", tuple(self.parameters))
        object.__setattr__(self, "results", tuple(self.results))
        object.__setattr__(self, "used", tuple(self.used))
        object.__setattr__(self, "options", FrozenOptions(self.options))
        object.__setattr__(self, "info", FrozenOptions(self.info))
        for key, value in self.info.items():
            if not OPTION_KEY.match(key) or NOT_XML.search(value):
                raise ValueError(f"activity attribute {key!r}: invalid name or value")
        names = [u.name for u in self.used]
        if len(set(names)) != len(names):
            raise ValueError("duplicate used entity name")
        _clean_text(self, "description")
        _clean_text(self, "version")
        if not JOB_NAME.match(self.name):
            raise ValueError(
                f"job name {self.name!r} must be a letter then up to 63 letters, digits, _ or -"
            )
        by_name: dict[str, ParameterSpec] = {}
        for spec in self.parameters:
            if spec.name.lower() in by_name:
                raise ValueError(f"duplicate parameter name {spec.name!r}")
            by_name[spec.name.lower()] = spec
        # Not a field: kept out of equality and hashing, rebuilt with every instance.
        object.__setattr__(self, "_by_name", by_name)
        ids = [r.id.lower() for r in self.results]
        for rid in ids:
            if ids.count(rid) > 1:
                raise ValueError(f"duplicate result id {rid!r}")
        for label in ("execution_duration", "max_execution_duration", "quote", "destruction"):
            _check_seconds(label, getattr(self, label))
        limit, duration = self.max_execution_duration, self.execution_duration
        if limit and duration is not None and not 0 < duration <= limit:
            raise ValueError(f"execution duration {duration} is not within the maximum {limit}")
        for key, value in self.options.items():
            if not isinstance(key, str) or not OPTION_KEY.match(key):
                raise ValueError(f"manager option name {key!r} is not valid")
            # Managers may write options into batch scripts, where a newline starts a new directive.
            if not isinstance(value, str) or _CONTROL_CHARS.search(value):
                raise ValueError(f"manager option {key}: value {value!r} has control characters")

    def parameter(self, name: str) -> ParameterSpec | None:
        """The parameter called ``name`` in any letter case, or None."""
        # Set in __post_init__ with object.__setattr__ (frozen): not a declared field.
        by_name: dict[str, ParameterSpec] = self.__dict__["_by_name"]
        return by_name.get(name.lower())

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "parameters": [p.to_json() for p in self.parameters],
            "results": [r.to_json() for r in self.results],
            "execution_duration": self.execution_duration,
            "max_execution_duration": self.max_execution_duration,
            "quote": self.quote,
            "destruction": self.destruction,
            "options": dict(self.options),
            "used": [u.to_json() for u in self.used],
            "info": dict(self.info),
        }
