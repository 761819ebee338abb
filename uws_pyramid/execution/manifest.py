"""A script's own list of results (its manifest), read with the same care as any job file.

A job may write ``uws_results.tsv`` in its working directory (as OPUS's wrapper wrote a
results file): one result a line, tab-separated fields ``id``, ``file`` and, optionally, the
media type and a description. Blank lines and lines starting with ``#`` are skipped. The id
follows the rules of declared result ids; the file is a plain file of the job's own, given
relative to the working directory. A fault names the line; the caller makes it the job's error.

A line whose id is that of a result the description declares, and whose file the job did not
produce by the declared name or pattern, is that result: it takes the declaration's media type
and description where the line gives none, and counts for a ``required`` one.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Mapping
from pathlib import Path

from ..jdl.model import MIME_TYPE, RESULT_ID, ResultSpec, is_pattern, safe_relative
from ..jobs import Result
from . import jobfiles
from .wrapper import META

log = logging.getLogger(__name__)

MANIFEST = "uws_results.tsv"
#: A manifest longer than this is refused whole: it is read into memory.
MAX_MANIFEST_BYTES = 1 << 20
#: Results one manifest may list (as one declared glob may yield).
MAX_ENTRIES = 1000
_DEFAULT_TYPE = "application/octet-stream"


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file and the line."""


def read_manifest(root: Path, declared: Mapping[str, ResultSpec] = {}) -> list[Result]:
    """The results a job's manifest lists (none without a manifest), each with its size and
    digest; ManifestError for the first fault. ``declared``: the declarations the job left
    unproduced, by lower-case id (module docstring)."""
    try:
        data, size = jobfiles.read_file(root, MANIFEST, MAX_MANIFEST_BYTES)
    except FileNotFoundError:
        return []
    except (jobfiles.Refused, OSError) as exc:
        raise ManifestError(f"{MANIFEST} cannot be read: {exc}") from None
    if size > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{MANIFEST} has {size} bytes, more than {MAX_MANIFEST_BYTES}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError(f"{MANIFEST} is not UTF-8 text") from None
    results: list[Result] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        where = f"{MANIFEST} line {number}"
        if len(results) >= MAX_ENTRIES:
            raise ManifestError(f"{where}: more than {MAX_ENTRIES} results")
        rid, relative, mime_type, description = _fields(line, where)
        spec = declared.get(rid.lower())
        if not mime_type:
            guessed = mimetypes.guess_type(relative)[0] or _DEFAULT_TYPE
            mime_type = spec.mime_type if spec is not None else guessed
        try:
            size, digest = jobfiles.size_and_digest(root, relative)
        except FileNotFoundError:
            raise ManifestError(f"{where}: file {relative!r} not found") from None
        except (jobfiles.Refused, OSError) as exc:
            raise ManifestError(f"{where}: file {relative!r} refused: {exc}") from None
        description = description or (spec.description if spec is not None else "")
        declared_id = spec.id if spec is not None else None
        results.append(
            Result(rid, relative, mime_type, size, digest, description or None, declared_id)
        )
    return results


def _fields(line: str, where: str) -> tuple[str, str, str, str]:
    fields = line.split("\t")
    if not 2 <= len(fields) <= 4:
        raise ManifestError(
            f"{where}: expected id, file, media type and description separated by tabs "
            f"(2 to 4 fields), found {len(fields)}"
        )
    rid, relative = fields[0].strip(), fields[1].strip()
    mime_type = fields[2].strip() if len(fields) > 2 else ""
    description = fields[3].strip() if len(fields) > 3 else ""
    if not RESULT_ID.match(rid):
        raise ManifestError(
            f"{where}: result id {rid!r} is not valid (a letter or _, then letters, digits, _.-)"
        )
    if (
        not safe_relative(relative)
        or is_pattern(relative)
        or relative == MANIFEST
        or relative.split("/", 1)[0] == META
    ):
        raise ManifestError(
            f"{where}: file {relative!r} must be a file name relative to the working directory"
        )
    if mime_type and not MIME_TYPE.match(mime_type):
        raise ManifestError(f"{where}: {mime_type!r} is not a media type")
    if any(ord(c) < 32 or c == "\x7f" for c in description):
        raise ManifestError(f"{where}: the description has control characters")
    return rid, relative, mime_type, description
