"""Prometheus metrics: what the service counts, and the text a scrape of /metrics returns.

Several server processes of one deployment report one view with prometheus-client's
multiprocess mode: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory, the same for every
process, before they start (README, "Metrics and logs"). Job counts by type and phase are
not counted here but read from storage at scrape time, so every process agrees on them."""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from .jobs import FINAL, WAITABLE, Job, Phase, utcnow
from .plugins import hookimpl
from .storage import Storage

# The *_created series double a scrape's size and tell nothing a restart's counters do not.
disable_created_metrics()  # type: ignore[no-untyped-call]

#: Seconds: from a few milliseconds (a job list) to a WAIT of ten minutes.
HTTP_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120, 600)
#: Seconds: jobs wait and run from seconds to days.
JOB_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 7 * 86400)

WAITING = Gauge(
    "uws_wait_requests_in_progress", "WAIT requests blocked now", multiprocess_mode="livesum"
)
WAIT_EARLY = Counter(
    "uws_wait_returned_early",
    "WAIT requests answered before their timeout with the job's phase unchanged",
)
JOBS_STARTED = Counter("uws_jobs_started", "Jobs that began EXECUTING", ["job_type"])
JOBS_FINISHED = Counter(
    "uws_jobs_finished", "Jobs that reached a final phase", ["job_type", "phase"]
)
SUBMISSIONS_FAILED = Counter(
    "uws_job_submissions_failed",
    "Jobs the manager could not start (QUEUED to ERROR)",
    ["job_type"],
)
QUEUE_SECONDS = Histogram(
    "uws_job_queue_seconds", "Time from QUEUED to EXECUTING", ["job_type"], buckets=JOB_BUCKETS
)
RUN_SECONDS = Histogram(
    "uws_job_run_seconds",
    "Time from EXECUTING to a final phase",
    ["job_type"],
    buckets=JOB_BUCKETS,
)
ERRORS = Counter(
    "uws_errors",
    "Faults of the storage or the manager (logged errors and outages)",
    ["component"],
)
BACKGROUND_SUCCESS = Gauge(
    "uws_background_last_success_timestamp_seconds",
    "When a background task last finished a pass without error (Unix time)",
    ["task"],
    multiprocess_mode="max",
)
BACKGROUND_FAILURES = Counter(
    "uws_background_failures", "Background task passes that failed", ["task"]
)

#: Final phases a job finishes in (ARCHIVED comes later, to a finished job).
FINISHED = FINAL - {Phase.ARCHIVED}
#: Methods given their own label value; others are counted as "other" (bounded labels).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class RequestHistogram:
    """``uws_http_request_duration_seconds``: requests answered by route, method and status,
    and their time to answer. One update per request (its _count is the number of requests),
    on every request's path: counted here in plain lists under one lock, and made a histogram
    when a scrape collects it (prometheus-client's Histogram.observe costs three times as
    much: a lock per bucket and one for the sum). A request's status is its code or its status
    line ("200 OK", as WebOb keeps it): the code is read from the line at scrape time, not on
    every request. In multiprocess mode the counts must reach the processes' shared files at
    once: there the update is prometheus-client's own."""

    NAME = "uws_http_request_duration_seconds"
    HELP = "HTTP requests answered and their time to answer (body not included)"
    LABELS = ("route", "method", "status")

    def __init__(self, buckets: tuple[float, ...], shared: bool) -> None:
        # Floats only: bisect then compares floats with floats (a third cheaper).
        self._bounds = tuple(float(bound) for bound in buckets)
        self._first = self._bounds[0]
        #: Each label set's counts by bucket (not cumulative; the last is +Inf), then the sum.
        self._rows: dict[tuple[str, str, int | str], list[float]] = {}
        self._empty: list[float] = [0] * (len(self._bounds) + 1) + [0.0]
        self._lock = threading.Lock()
        self._children: dict[tuple[str, str, int | str], Any] = {}
        #: Multiprocess mode: prometheus-client's histogram, its values in the processes' files
        #: (a scrape reads them all; no registry of this process's needs it).
        self.shared: Histogram | None = None
        if shared:
            self.shared = Histogram(
                self.NAME, self.HELP, self.LABELS, buckets=buckets, registry=None
            )
        #: What a request's update calls.
        self.observe = self._observe_shared if shared else self._observe_here

    def _observe_here(self, route: str, method: str, status: int | str, seconds: float) -> None:
        key = (route, method if method in METHODS else "other", status)
        # The first bound >= seconds (le); most requests are within the first, unsearched.
        index = 0 if seconds <= self._first else bisect_left(self._bounds, seconds)
        lock = self._lock
        lock.acquire()  # not "with": a fifth of this update's cost
        try:
            row = self._rows.get(key)
            if row is None:
                row = self._rows[key] = self._empty.copy()
            row[index] += 1
            row[-1] += seconds
        finally:
            lock.release()

    def _observe_shared(self, route: str, method: str, status: int | str, seconds: float) -> None:
        key = (route, method if method in METHODS else "other", status)
        child = self._children.get(key)
        if child is None:  # labels() is slow for every request: its children are kept
            assert self.shared is not None
            child = self.shared.labels(*key[:2], _code(status))
            child = self._children.setdefault(key, child)
        child.observe(seconds)

    def collect(self) -> Iterator[Metric]:
        """The histogram as prometheus-client's own would show it (single-process mode)."""
        with self._lock:
            rows = [(key, row.copy()) for key, row in self._rows.items()]
        # One series per code: a code's status lines and the code itself are added up.
        series: dict[tuple[str, str, str], list[float]] = {}
        for (route, method, status), row in rows:
            key = (route, method, _code(status))
            if key in series:
                row = [mine + theirs for mine, theirs in zip(series[key], row)]
            series[key] = row
        family = HistogramMetricFamily(self.NAME, self.HELP, labels=self.LABELS)
        # As prometheus-client writes bounds (Go's form, the same as repr below 1e16): 1.0.
        bounds = [repr(bound) for bound in self._bounds] + ["+Inf"]
        for labels, row in sorted(series.items()):
            cumulative = list(itertools.accumulate(row[:-1]))
            family.add_metric(list(labels), list(zip(bounds, cumulative)), sum_value=row[-1])
        yield family


def _code(status: int | str) -> str:
    """A status's code as a label value: "200" of 200 or of "200 OK"."""
    return str(status).partition(" ")[0]


HTTP_SECONDS = RequestHistogram(HTTP_BUCKETS, shared=multiprocess())
if HTTP_SECONDS.shared is None:
    REGISTRY.register(HTTP_SECONDS)
#: One request answered: its route name, method, status and seconds.
observe_request = HTTP_SECONDS.observe


def timed_wait(
    wait: Callable[[], Job], before: Job, timeout: int, expected: Phase | None, most: int
) -> Job:
    """Run a WAIT (``wait``), counted in progress; count it returned early when it came
    back well before its timeout with the job in the phase it waited to leave."""
    seconds = most if timeout < 0 else min(timeout, most)
    started = time.monotonic()
    WAITING.inc()
    try:
        after = wait()
    finally:
        WAITING.dec()
    blocking = before.phase in WAITABLE and expected in (None, before.phase)
    if blocking and after.phase == before.phase and time.monotonic() - started < seconds - 0.5:
        WAIT_EARLY.inc()
    return after


def background_pass(task: str, seconds: float, error: BaseException | None) -> None:
    """Background.on_pass listener."""
    if error is None:
        BACKGROUND_SUCCESS.labels(task).set(time.time())
    else:
        BACKGROUND_FAILURES.labels(task).inc()


class JobObserver:
    """Counts phase changes (a ``uws_job_phase_changed`` hook implementation)."""

    #: Jobs recorded QUEUED in this process, with when (bounded: the oldest are forgotten).
    KEEP = 10000

    def __init__(self) -> None:
        self._queued: dict[str, datetime] = {}
        self._lock = threading.Lock()

    @hookimpl
    def uws_job_phase_changed(self, job: Any, previous: Phase) -> None:
        phase, job_type = job.phase, job.job_type
        if phase == Phase.QUEUED:
            with self._lock:
                self._queued[job.job_id] = utcnow()
                if len(self._queued) > self.KEEP:
                    del self._queued[next(iter(self._queued))]
        elif phase == Phase.EXECUTING:
            JOBS_STARTED.labels(job_type).inc()
            with self._lock:
                queued = self._queued.pop(job.job_id, None)
            # Recorded QUEUED by another process: its creation is the best bound we have.
            since = queued or job.creation_time
            started = job.start_time or utcnow()
            QUEUE_SECONDS.labels(job_type).observe(max((started - since).total_seconds(), 0.0))
        if phase in FINISHED:
            with self._lock:
                self._queued.pop(job.job_id, None)
            JOBS_FINISHED.labels(job_type, str(phase)).inc()
            if phase == Phase.ERROR and previous == Phase.QUEUED and job.start_time is None:
                SUBMISSIONS_FAILED.labels(job_type).inc()
                ERRORS.labels("manager").inc()
            if job.start_time is not None:
                ended = job.end_time or utcnow()
                RUN_SECONDS.labels(job_type).observe(
                    max((ended - job.start_time).total_seconds(), 0.0)
                )


class ErrorCounter(logging.Handler):
    """Counts the errors the storage's and the manager's code log, by component."""

    def __init__(self, components: dict[str, str]) -> None:
        super().__init__(logging.ERROR)
        #: Logger name prefix -> component ("uws_local" -> "manager").
        self.components = components

    def emit(self, record: logging.LogRecord) -> None:
        for prefix, component in self.components.items():
            if record.name == prefix or record.name.startswith(prefix + "."):
                ERRORS.labels(component).inc()
                return


class JobCounts:
    """A collector: jobs by type and phase, one grouped count in storage, at most every
    ``every`` seconds (scrapes in between get the last figures)."""

    def __init__(self, storage: Storage, every: float = 5.0) -> None:
        self.storage = storage
        self.every = every
        self._lock = threading.Lock()
        self._at = -every
        self._counts: dict[tuple[str, Phase], int] = {}

    def counts(self) -> dict[tuple[str, Phase], int]:
        with self._lock:
            if time.monotonic() - self._at >= self.every:
                self._counts = self.storage.counts()
                self._at = time.monotonic()
            return self._counts

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "uws_jobs", "Jobs in storage by type and phase", labels=["job_type", "phase"]
        )
        try:
            counts = self.counts()
        except Exception:  # an outage must not fail the scrape of the other metrics
            ERRORS.labels("storage").inc()
            counts = {}
        for (job_type, phase), count in sorted(counts.items()):
            family.add_metric([job_type, str(phase)], count)
        yield family


class _Union:
    """The collectors of one scrape, as one registry for ``generate_latest``."""

    def __init__(self, *collectors: Any) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def scrape(counts: JobCounts) -> tuple[bytes, str]:
    """The Prometheus text of every metric of this deployment, and its content type."""
    if multiprocess():
        processes = CollectorRegistry()
        MultiProcessCollector(processes)  # type: ignore[no-untyped-call]
        body = generate_latest(_Union(processes, counts))
    else:
        body = generate_latest(_Union(REGISTRY, counts))
    return body, CONTENT_TYPE_LATEST
