"""Job description file formats: which files of the directory hold descriptions, and how to
read and write them. WADL and OPUS's VOTable are built in; plugins add more through the
``uws_description_formats`` hook."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import ConfigurationError
from .model import JobDescription


class JDLError(ConfigurationError):
    """A job description that cannot be used; the message names the file and the fault."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


@dataclass(frozen=True)
class DescriptionFormat:
    """Files named ``<job type><suffix>`` hold descriptions in this format."""

    name: str  # as in GET /jdl/<type>?format=<name>
    suffix: str
    media_type: str
    read: Callable[[bytes, str], JobDescription]  # (data, source) -> model; JDLError if bad
    write: Callable[[JobDescription], bytes]

    def job_name(self, filename: str) -> str | None:
        """The job type a file of this format describes, or None if it is not one."""
        if filename.startswith(".") or not filename.endswith(self.suffix):
            return None
        return filename[: -len(self.suffix)] or None


def builtin_formats() -> list[DescriptionFormat]:
    # Imported here: the readers need lxml, which commands that never read one skip.
    from .votable import SUFFIX, read_votable, write_votable
    from .wadl import read_wadl, write_wadl

    return [
        DescriptionFormat("wadl", ".wadl", "application/xml", read_wadl, write_wadl),
        DescriptionFormat(
            "votable", SUFFIX, "application/x-votable+xml", read_votable, write_votable
        ),
    ]


def merge_formats(found: Iterable[Iterable[DescriptionFormat]]) -> list[DescriptionFormat]:
    """The built-in formats and those of the plugins; two formats with one name or suffix
    are a configuration error (ValueError)."""
    formats = builtin_formats()
    for group in found:
        formats.extend(group)
    for attribute in ("name", "suffix"):
        values = [getattr(f, attribute) for f in formats]
        for value in values:
            if values.count(value) > 1:
                raise ValueError(f"two job description formats have the {attribute} {value!r}")
    return formats
