"""After the script: collecting declared results from the working directory, and the outcome.

Result ids: a declared result with a plain file name keeps its declared id. A declared glob
(``tile_*.fits``) yields one result per matching file, ``<id>_<name>``, where ``<name>`` is the
file's path below the glob's fixed directories, characters other than letters, digits, ``_.-``
replaced by ``_`` (then, to stay unique, a short hash of the path is added): the same file
always gets the same id. A script may list more results in a manifest (``MANIFEST``, see
``manifest.py``). ``stdout`` and ``stderr`` are always offered (text/plain); an id taken already
is never given twice (the later file is left out, with a warning in the log). Each result
carries its size and the SHA-256 of its content, computed here once.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import logging
import os
import re
import signal
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..jdl.model import JobDescription, ResultSpec, is_pattern, safe_relative
from ..jobs import ErrorSummary, Phase, Result, utcnow
from ..transitions import Ending
from . import jobfiles
from .manifest import MANIFEST, ManifestError, read_manifest
from .workdir import JobDir
from .wrapper import META, NO_SPACE_STATUS

log = logging.getLogger(__name__)

#: Results one declaration may yield: a glob like ``*`` must not flood the job record.
MAX_FILES_PER_RESULT = 1000
#: Length of the errorSummary message built from the end of stderr.
ERROR_CHARS = 500
#: Most of stderr that ``/error`` returns (its end).
ERROR_TEXT_MAX = 1 << 20
#: Directory entries one result pattern may scan.
MAX_SCANNED = 100_000
#: Free bytes below which a job's file system counts as full when the job ends.
FULL_BYTES = 64 * 1024
#: A job whose wrapper is gone without an exit record, its own status unknown (adopted after a
#: restart, or the host rebooted).
VANISHED = "the job's supervisor died before it recorded how the job's script ended"


def timeout_error(seconds: int) -> ErrorSummary:
    """UWS 1.1 section 2.1.4: a job running past its executionDuration is aborted."""
    return ErrorSummary(
        f"execution duration exceeded: the job ran longer than its executionDuration of "
        f"{seconds} s and was aborted"
    )


def result_pattern(spec: ResultSpec, jd: JobDescription, parameters: Mapping[str, str]) -> str:
    """The file name or glob of a result: a parameter named like the result overrides the
    description's default (the rule of the original UWS server)."""
    param = jd.parameter(spec.id)
    if param is not None and parameters.get(param.name):
        return parameters[param.name]
    return spec.default


_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")


def pattern_id(spec_id: str, pattern: str, relative: str) -> str:
    """The stable id of the file ``relative`` matched by ``pattern`` (module docstring)."""
    fixed = 0
    for part in pattern.split("/")[:-1]:
        if is_pattern(part):
            break
        fixed += 1
    name = "/".join(relative.split("/")[fixed:])
    safe = _UNSAFE_ID.sub("_", name)
    if safe != name:
        safe += "-" + hashlib.sha256(relative.encode()).hexdigest()[:8]
    return f"{spec_id}_{safe}"


def _matches(root: Path, pattern: str) -> list[tuple[str, int, str]]:
    found: list[tuple[str, int, str]] = []
    for relative in sorted(walk_pattern(root, pattern)):
        if relative.split("/", 1)[0] == META or relative == MANIFEST:
            continue  # the contract's own files: stdout and stderr are offered by name
        try:
            size, digest = jobfiles.size_and_digest(root, relative)
        except FileNotFoundError:
            continue
        except (jobfiles.Refused, OSError) as exc:
            if not Path(root, relative).is_dir():
                log.warning("job dir %s: result file left out: %s", root, exc)
            continue
        found.append((relative, size, digest))
        if len(found) >= MAX_FILES_PER_RESULT:
            log.warning(
                "result pattern %r in %s: only the first %d files are kept",
                pattern,
                root,
                MAX_FILES_PER_RESULT,
            )
            break
    return found


def walk_pattern(root: Path, pattern: str) -> set[str]:
    """The relative paths under ``root`` that a glob pattern names, as ``glob.glob`` would
    (``*`` skips hidden names, ``**`` any depth) but never through a symbolic link: a job's
    link to ``/`` must not make the server walk the whole disk. At most MAX_SCANNED entries."""
    parts = [part for part in pattern.split("/") if part]
    found: set[str] = set()
    budget = [MAX_SCANNED]

    def names(prefix: str) -> list[str]:
        try:
            with os.scandir(root / prefix if prefix else root) as entries:
                listed = []
                for entry in entries:
                    budget[0] -= 1
                    if budget[0] < 0:
                        break
                    listed.append(entry.name)
                return listed
        except OSError:
            return []

    def real_dir(relative: str) -> bool:
        try:
            return stat.S_ISDIR(os.lstat(root / relative).st_mode)
        except OSError:
            return False

    def join(prefix: str, name: str) -> str:
        return f"{prefix}/{name}" if prefix else name

    def visit(prefix: str, index: int) -> None:
        if budget[0] < 0:
            return
        if index == len(parts):
            if prefix:
                found.add(prefix)
            return
        part, last = parts[index], index == len(parts) - 1
        if part == "**":
            visit(prefix, index + 1)
            for name in names(prefix):
                child = join(prefix, name)
                if not name.startswith(".") and real_dir(child):
                    visit(child, index)
                elif last and not name.startswith("."):
                    found.add(child)
        elif glob.has_magic(part):
            for name in names(prefix):
                if name.startswith(".") and not part.startswith("."):
                    continue
                if fnmatch.fnmatchcase(name, part):
                    child = join(prefix, name)
                    if last:
                        found.add(child)
                    elif real_dir(child):
                        visit(child, index + 1)
        else:
            child = join(prefix, part)
            if last:
                found.add(child)
            elif real_dir(child):
                visit(child, index + 1)

    visit("", 0)
    return found


@dataclass
class Collected:
    """The results found, and what is wrong with them (a required result missing, a bad
    manifest line): each problem makes a job that would be COMPLETED an ERROR."""

    results: list[Result] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def collect_results(
    job_dir: JobDir,
    jd: JobDescription | None,
    parameters: Mapping[str, str],
    declared: bool = True,
) -> Collected:
    """The declared results present in the working directory and those of the script's
    manifest (unless ``declared`` is false), then stdout and stderr. Only plain files of the
    job's own count (``jobfiles``)."""
    collected = Collected()
    root = job_dir.path
    if not root.is_dir() or root.is_symlink():
        return collected
    results = collected.results
    taken = {"stdout", "stderr"}

    def add(result: Result) -> bool:
        if result.id.lower() in taken:
            log.warning(
                "job dir %s: result id %r is taken already; file %s left out",
                root,
                result.id,
                result.path,
            )
            return False
        taken.add(result.id.lower())
        results.append(result)
        return True

    unproduced: dict[str, ResultSpec] = {}
    for spec in jd.results if jd is not None and declared else ():
        pattern = result_pattern(spec, jd, parameters)  # type: ignore[arg-type]
        found: list[tuple[str, int, str]] = []
        if safe_relative(pattern):
            found = _matches(root, pattern)
        elif pattern:
            log.warning(
                "result %s: pattern %r leaves the working directory; ignored", spec.id, pattern
            )
        for path, size, digest in found:
            rid = pattern_id(spec.id, pattern, path) if is_pattern(pattern) else spec.id
            add(Result(rid, path, spec.mime_type, size, digest, spec.description or None, spec.id))
        if not found:
            unproduced[spec.id.lower()] = spec
    if declared:
        try:
            for entry in read_manifest(root, unproduced):
                if not add(entry):
                    collected.problems.append(
                        f"{MANIFEST}: result id {entry.id!r} is taken already"
                    )
                else:
                    unproduced.pop(entry.id.lower(), None)
        except ManifestError as exc:
            collected.problems.append(str(exc))
    for spec in unproduced.values():
        if spec.required:
            pattern = result_pattern(spec, jd, parameters)  # type: ignore[arg-type]
            collected.problems.append(
                f"required result {spec.id!r} was not produced (no file {pattern!r})"
            )
    for rid, stream in (("stdout", job_dir.stdout), ("stderr", job_dir.stderr)):
        relative = stream.relative_to(root).as_posix()
        try:
            size, digest = jobfiles.size_and_digest(root, relative)
        except FileNotFoundError:
            continue
        except (jobfiles.Refused, OSError) as exc:
            log.warning("job dir %s: %s left out: %s", root, rid, exc)
            continue
        results.append(Result(rid, relative, "text/plain", size, digest))
    return collected


def _stderr_relative(job_dir: JobDir) -> str:
    return job_dir.stderr.relative_to(job_dir.path).as_posix()


def stderr_tail(job_dir: JobDir, limit: int = ERROR_CHARS) -> str:
    """The last non-empty lines of the job's stderr that fit in ``limit`` characters;
    Refused if the file is not a plain file of the job's own, "" if absent."""
    try:
        data, size = jobfiles.read_file(
            job_dir.path, _stderr_relative(job_dir), 8 * limit, tail=True
        )
    except FileNotFoundError:
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    if size > len(data) and lines:
        lines = lines[1:]  # most likely cut in the middle
    kept: list[str] = []
    total = 0
    for line in reversed([text.strip() for text in lines if text.strip()]):
        length = len(line) + (1 if kept else 0)
        if total + length > limit:
            if not kept:
                kept.append("…" + line[-(limit - 1) :])
            break
        kept.append(line)
        total += length
    return "\n".join(reversed(kept))


def error_detail(job_dir: JobDir, limit: int = ERROR_TEXT_MAX) -> str:
    """The text of a job's ``/error``: its stderr (the last ``limit`` bytes of a longer one),
    or "" if it is absent, empty or not a plain file of the job's own."""
    try:
        data, size = jobfiles.read_file(job_dir.path, _stderr_relative(job_dir), limit, tail=True)
    except FileNotFoundError:
        return ""
    except (jobfiles.Refused, OSError) as exc:
        log.warning("job dir %s: stderr not read: %s", job_dir.path, exc)
        return ""
    text = data.decode("utf-8", "replace")
    if not text.strip():
        return ""
    if size > len(data):
        text = f"[the first {size - len(data)} bytes of stderr are left out]\n" + text
    return text


def _ended(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"was killed by signal {name}"
    return f"exited with status {returncode}"


def describe_exit(returncode: int) -> str:
    return f"the job's script {_ended(returncode)}"


def supervisor_died(returncode: int) -> str:
    """The message of a job whose wrapper ended without recording the script's end."""
    return (
        f"the job's supervisor died (it {_ended(returncode)}) before it recorded how "
        f"the job's script ended"
    )


def _lost_exit(job_dir: JobDir, supervisor: int) -> str:
    """Why a job whose wrapper ended has no exit record: a record the job spoiled, or the
    wrapper's death."""
    try:
        jobfiles.stat_file(job_dir.path, job_dir.exit_file.relative_to(job_dir.path))
    except jobfiles.Refused as exc:
        return f"the job's exit record was not read: {exc} (its supervisor {_ended(supervisor)})"
    except OSError:
        pass
    return supervisor_died(supervisor)


def error_summary(job_dir: JobDir, returncode: int) -> ErrorSummary:
    """The errorSummary of a failed script: the end of its stderr (all of it at /error), or
    its exit status when stderr says nothing (or cannot be read: then why)."""
    try:
        tail = stderr_tail(job_dir)
    except (jobfiles.Refused, OSError) as exc:
        log.warning("job dir %s: stderr not read: %s", job_dir.path, exc)
        return ErrorSummary(f"{describe_exit(returncode)}; its stderr was not read: {exc}")
    if not tail:
        return ErrorSummary(f"{describe_exit(returncode)} (nothing on stderr)")
    return ErrorSummary(tail, has_detail=True)


def no_space(job_dir: JobDir) -> bool:
    """Whether the file system of the job's directory is full (for its user)."""
    try:
        fs = os.statvfs(job_dir.path)
    except OSError:
        return False
    return fs.f_bavail * fs.f_frsize < FULL_BYTES or (fs.f_files > 0 and fs.f_favail == 0)


def job_ending(
    job_dir: JobDir,
    jd: JobDescription | None,
    parameters: Mapping[str, str],
    returncode: int | None,
    now: datetime | None = None,
    supervisor: int | None = None,
) -> Ending:
    """How a job ended: COMPLETED for status 0, else ERROR; None means the process vanished
    without leaving an exit status (``supervisor``: the wrapper's own status then, if known).

    A job that ran out of disk space (its wrapper says so, or the disk is full now) is an
    ERROR whatever its status, and its declared results, likely cut short, are not offered.
    A script that exits with 0 but leaves a required result out, or a bad manifest line, ends
    in ERROR too, the message naming what is wrong."""
    full = supervisor == NO_SPACE_STATUS or no_space(job_dir)
    end_time = now or utcnow()
    collected = collect_results(job_dir, jd, parameters, declared=not full)
    results = collected.results
    if full:
        how = "" if returncode is None else f"; {describe_exit(returncode)}"
        error = ErrorSummary(
            f"no space left on device: the job's files could not all be written{how}"
        )
    elif returncode == 0 and collected.problems:
        # A script that says it succeeded but did not make what its description promises.
        error = ErrorSummary("; ".join(collected.problems))
    elif returncode == 0:
        return Ending(Phase.COMPLETED, end_time, results)
    elif returncode is None and supervisor is not None:
        error = ErrorSummary(_lost_exit(job_dir, supervisor))
    elif returncode is None:
        error = ErrorSummary(VANISHED)
    else:
        error = error_summary(job_dir, returncode)
    return Ending(Phase.ERROR, end_time, results, error)
