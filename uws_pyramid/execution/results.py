"""After the script: collecting declared results from the working directory, and the outcome.

Result ids: a declared result whose file name (or glob) matches one file keeps its declared
id; a glob matching several files gives ``<id>_1``, ``<id>_2``, ... numbered in the sorted
order of their paths. ``stdout`` and ``stderr`` are always offered (text/plain); an id taken
already is never given twice (the later file is left out, with a warning in the log).
"""
from __future__ import annotations

import glob
import logging
import signal
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ..jdl.model import JobDescription, ResultSpec
from ..jobs import ErrorSummary, Phase, Result, utcnow
from .workdir import JobDir
from .wrapper import META

log = logging.getLogger(__name__)

#: Results one declaration may yield: a glob like ``*`` must not flood the job record.
MAX_FILES_PER_RESULT = 1000
#: Length of the errorSummary message built from the end of stderr.
ERROR_CHARS = 500
VANISHED = "the job's process disappeared (server restart?)"
_CONTROL = frozenset(chr(c) for c in range(32)) | {"\x7f"}


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


def _safe_pattern(pattern: str) -> bool:
    parts = pattern.replace("\\", "/").split("/")
    return bool(pattern) and not (
        pattern.startswith(("/", "~")) or ".." in parts or any(c in _CONTROL for c in pattern)
    )


def _inside(root: Path, relative: str) -> Path | None:
    """The regular file at ``relative`` if it really is inside ``root`` (symlinks resolved)."""
    target = (root / relative).resolve()
    if root not in target.parents or not target.is_file():
        return None
    if (root / META) in target.parents:
        return None  # the contract's own files: stdout and stderr are offered by name
    return target


def _matches(root: Path, pattern: str) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for relative in sorted(glob.glob(pattern, root_dir=root, recursive=True)):
        target = _inside(root, relative)
        if target is None:
            log.debug("result file %s left out: not a regular file inside %s", relative, root)
            continue
        found.append((Path(relative).as_posix(), target.stat().st_size))
        if len(found) >= MAX_FILES_PER_RESULT:
            log.warning("result pattern %r in %s: only the first %d files are kept",
                        pattern, root, MAX_FILES_PER_RESULT)
            break
    return found


def collect_results(
    job_dir: JobDir, jd: JobDescription | None, parameters: Mapping[str, str]
) -> list[Result]:
    """The declared results present in the working directory, then stdout and stderr."""
    try:
        root = job_dir.path.resolve(strict=True)
    except OSError:
        return []
    results: list[Result] = []
    taken = {"stdout", "stderr"}

    def add(result: Result) -> None:
        if result.id.lower() in taken:
            log.warning("job dir %s: result id %r is taken already; file %s left out",
                        root, result.id, result.path)
            return
        taken.add(result.id.lower())
        results.append(result)

    for spec in jd.results if jd is not None else ():
        pattern = result_pattern(spec, jd, parameters)  # type: ignore[arg-type]
        if not _safe_pattern(pattern):
            if pattern:
                log.warning("result %s: pattern %r leaves the working directory; ignored",
                            spec.id, pattern)
            continue
        found = _matches(root, pattern)
        for number, (path, size) in enumerate(found, start=1):
            rid = spec.id if len(found) == 1 else f"{spec.id}_{number}"
            add(Result(rid, path, spec.mime_type, size))
    for rid, path in (("stdout", job_dir.stdout), ("stderr", job_dir.stderr)):
        if path.is_file():
            relative = path.relative_to(job_dir.path).as_posix()
            results.append(Result(rid, relative, "text/plain", path.stat().st_size))
    return results


def stderr_tail(path: Path, limit: int = ERROR_CHARS) -> str:
    """The last non-empty lines of ``path`` that fit in ``limit`` characters."""
    try:
        with open(path, "rb") as stream:
            size = stream.seek(0, 2)
            start = max(0, size - 8 * limit)
            stream.seek(start)
            data = stream.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    if start > 0 and lines:
        lines = lines[1:]  # most likely cut in the middle
    kept: list[str] = []
    total = 0
    for line in reversed([text.strip() for text in lines if text.strip()]):
        length = len(line) + (1 if kept else 0)
        if total + length > limit:
            if not kept:
                kept.append("…" + line[-(limit - 1):])
            break
        kept.append(line)
        total += length
    return "\n".join(reversed(kept))


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"the job's script was killed by signal {name}"
    return f"the job's script exited with status {returncode}"


def error_summary(job_dir: JobDir, returncode: int) -> ErrorSummary:
    """The errorSummary of a failed script: the end of its stderr (all of it at /error)."""
    message = stderr_tail(job_dir.stderr) or describe_exit(returncode)
    return ErrorSummary(message, has_detail=job_dir.stderr.is_file())


def final_changes(
    job_dir: JobDir,
    jd: JobDescription | None,
    parameters: Mapping[str, str],
    returncode: int | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The changes that end a job: COMPLETED for status 0, else ERROR; None means the
    process vanished without leaving an exit status."""
    changes: dict[str, Any] = {
        "end_time": now or utcnow(),
        "results": collect_results(job_dir, jd, parameters),
    }
    if returncode == 0:
        changes.update(phase=Phase.COMPLETED, error=None)
    elif returncode is None:
        changes.update(phase=Phase.ERROR, error=ErrorSummary(VANISHED))
    else:
        changes.update(phase=Phase.ERROR, error=error_summary(job_dir, returncode))
    return changes
