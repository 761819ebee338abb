"""What results cost: the SHA-256 computed when a job ends, and results.zip streamed.

Writes one result file of ``--mib`` MiB in a temporary job directory, then measures (one run,
median of ``--rounds``): hashing it as ``execution.jobfiles.size_and_digest`` does, reading it
plainly (the disk's own speed, for reference), and sending it through ``web.zipstream`` (the
archive's bytes thrown away), with the peak of memory Python allocated meanwhile (tracemalloc).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from uws_pyramid.execution import jobfiles
from uws_pyramid.jobs import Job, Result
from uws_pyramid.web.zipstream import results_zip


class Files:
    """The one method of JobService that results_zip uses."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def open_file(self, job: Job, relative: str, what: str) -> tuple[BinaryIO, os.stat_result]:
        return jobfiles.open_file(self.root, relative)


def timed(action: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def read_plainly(path: Path) -> None:
    with open(path, "rb") as stream:
        while stream.read(1 << 20):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        with open(root / "big.bin", "wb") as out:
            for _ in range(args.mib):
                out.write(os.urandom(1 << 20))
        job = Job("bench", "bench", results=[Result("big", "big.bin", "application/octet-stream")])
        plain = timed(lambda: read_plainly(root / "big.bin"), args.rounds)
        digest = timed(lambda: jobfiles.size_and_digest(root, "big.bin"), args.rounds)

        def send() -> None:
            for _ in results_zip(Files(root), job):  # type: ignore[arg-type]
                pass

        tracemalloc.start()
        zipped = timed(send, args.rounds)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    mib = args.mib
    print(f"file: {mib} MiB, median of {args.rounds}")
    print(f"plain read:      {plain:6.2f} s  {mib / plain:7.0f} MiB/s")
    print(f"SHA-256 at end:  {digest:6.2f} s  {mib / digest:7.0f} MiB/s")
    print(
        f"results.zip:     {zipped:6.2f} s  {mib / zipped:7.0f} MiB/s, "
        f"peak Python memory {peak / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
