"""A job's results as one zip archive, written piece by piece while it is sent.

The archive is never built in memory or on disk: ``zipfile`` writes into a sink that the
response's iterator empties after every chunk, so a request holds one chunk of one file at a
time whatever the results weigh. Files are stored (not compressed): results are often
compressed already, and the archive starts at once.
"""

from __future__ import annotations

import logging
import time
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ..errors import NotFound
from ..jobs import Job, Result

if TYPE_CHECKING:
    from ..service import JobService

log = logging.getLogger(__name__)

CHUNK = 1 << 16


class _Sink:
    """A write-only stream whose bytes the iterator takes away (no tell: zipfile then writes
    sizes after each file's data, as streamed archives do)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def entry_name(result: Result, taken: set[str]) -> str:
    """The result's name in the archive: its id, with its file's extension when the id has
    none (``folded`` -> ``folded.csv``), never twice the same."""
    suffix = PurePosixPath(result.path).suffix
    name = result.id if not suffix or result.id.endswith(suffix) else result.id + suffix
    if name.lower() in taken:
        name = f"{result.id}/{PurePosixPath(result.path).name}"
    taken.add(name.lower())
    return name


def results_zip(jobs: JobService, job: Job) -> Iterator[bytes]:
    """The zip of the job's results; a file that cannot be opened (deleted or replaced since
    the job ended) is left out and logged."""
    sink = _Sink()
    taken: set[str] = set()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
        for result in job.results:
            try:
                stream, st = jobs.open_file(job, result.path, f"result {result.id!r}")
            except NotFound as exc:
                log.warning("job %s: %s left out of results.zip", job.job_id, exc)
                continue
            info = zipfile.ZipInfo(
                entry_name(result, taken), time.gmtime(max(st.st_mtime, 315532800))[:6]
            )
            info.compress_type = zipfile.ZIP_STORED
            with stream, archive.open(info, "w", force_zip64=True) as entry:
                for chunk in iter(partial(stream.read, CHUNK), b""):
                    entry.write(chunk)
                    data = sink.take()
                    if data:
                        yield data
            yield sink.take()
    yield sink.take()
