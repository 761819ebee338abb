"""uws-admin jobs list|show|abort|delete|requeue and uws-admin stats: operators' view of jobs,
through the JobService the REST API uses (its phase rules and hooks apply)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..jobs import Job, JobRef
    from ..runtime import Runtime
    from ..settings import UWSSettings


@contextmanager
def runtime_of(settings: UWSSettings) -> Iterator[Runtime]:
    """The service as the server builds it, without background tasks (the server, running
    or not, keeps those). Imported here: the other commands answer without it."""
    from ..logs import PhaseLogger
    from ..runtime import build_runtime

    runtime = build_runtime(dataclasses.replace(settings, background=False), (PhaseLogger(),))
    try:
        yield runtime
    finally:
        runtime.close()


def _duration(text: str) -> timedelta:
    """``30s``, ``15m``, ``12h``, ``7d`` (a number alone: seconds)."""
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(text[-1:].lower())
    try:
        value = float(text[:-1] if unit else text) * (unit or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a duration such as 30m, 12h or 7d"
        ) from None
    return timedelta(seconds=value)


def _phase(text: str) -> Any:
    from ..jobs import Phase

    phase = Phase.parse(text)
    if phase is None:
        raise argparse.ArgumentTypeError(f"{text!r}: expected one of {', '.join(Phase)}")
    return phase


def select(runtime: Runtime, args: argparse.Namespace) -> list[JobRef]:
    """The jobs matching the filters, oldest first."""
    from ..jobs import JobQuery, utcnow

    query = JobQuery(
        job_type=args.type,
        owner_id=args.owner or None,
        phases=frozenset(args.phase) if args.phase else None,
    )
    refs = runtime.storage.list(query)
    if args.older_than is not None:
        cutoff = utcnow() - args.older_than
        refs = [r for r in refs if r.creation_time <= cutoff]
    return refs


def _row(ref: JobRef) -> dict[str, Any]:
    from ..web.xml import format_time

    return {
        "id": ref.job_id,
        "type": ref.job_type,
        "phase": str(ref.phase),
        "owner": ref.owner_id,
        "runId": ref.run_id,
        "created": format_time(ref.creation_time),
    }


def list_jobs(args: argparse.Namespace, settings: UWSSettings) -> int:
    with runtime_of(settings) as runtime:
        rows = [_row(ref) for ref in select(runtime, args)]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'id':24}  {'type':12} {'phase':10} {'owner':12} created")
    for row in rows:
        print(
            f"{row['id']:24}  {row['type']:12} {row['phase']:10} {row['owner'] or '-':12} "
            f"{row['created']}"
        )
    print(f"{len(rows)} job(s)")
    return 0


def _job(runtime: Runtime, job_id: str) -> Job:
    return runtime.storage.get(job_id)  # NotFound: reported as the REST API does


def show(args: argparse.Namespace, settings: UWSSettings) -> int:
    from ..web.jsonform import job_json

    with runtime_of(settings) as runtime:
        job = _job(runtime, args.job_id)
        base = settings.base_url or "."
        print(json.dumps(job_json(job, f"{base}/rest/{job.job_type}/{job.job_id}"), indent=1))
    return 0


def _each(args: argparse.Namespace, settings: UWSSettings, verb: str, act: Any) -> int:
    """Apply ``act(runtime, job)`` to the named jobs, or to the filtered ones with --all."""
    from ..errors import UWSError

    if bool(args.job_ids) == bool(args.all):
        print(
            f"uws-admin: name the jobs to {verb}, or select them with filters and --all",
            file=sys.stderr,
        )
        return 2
    failed = 0
    with runtime_of(settings) as runtime:
        ids = args.job_ids or [ref.job_id for ref in select(runtime, args)]
        for job_id in ids:
            try:
                print(f"{job_id}: {act(runtime, _job(runtime, job_id))}")
            except UWSError as exc:  # one refused job does not stop the others
                failed += 1
                print(f"{job_id}: not done: {exc}", file=sys.stderr)
    return 1 if failed else 0


def abort(args: argparse.Namespace, settings: UWSSettings) -> int:
    return _each(args, settings, "abort", lambda runtime, job: runtime.service.abort(job).phase)


def delete(args: argparse.Namespace, settings: UWSSettings) -> int:
    def act(runtime: Runtime, job: Job) -> str:
        runtime.service.delete(job)
        return "deleted"

    return _each(args, settings, "delete", act)


def requeue(args: argparse.Namespace, settings: UWSSettings) -> int:
    """Run a job again: a new job of the same type, owner, run id and parameters, queued."""
    from ..errors import BadRequest
    from ..submission import Submission

    def act(runtime: Runtime, job: Job) -> str:
        if runtime.service.uploads(job):
            raise BadRequest("its parameters include uploaded files: submit it again instead")
        control = {"PHASE": "RUN", **({"RUNID": job.run_id} if job.run_id else {})}
        new = runtime.service.create(
            job.job_type,
            Submission(control=control, parameters=dict(job.parameters)),
            owner_id=job.owner_id,
        )
        return f"requeued as {new.job_id} ({new.phase})"

    return _each(args, settings, "requeue", act)


def stats(args: argparse.Namespace, settings: UWSSettings) -> int:
    from ..jobs import ACTIVE, Phase, utcnow
    from ..web.xml import format_time

    with runtime_of(settings) as runtime:
        counts = runtime.storage.counts()
        oldest = runtime.storage.in_phases(ACTIVE, limit=1)
    queued = sum(n for (_, phase), n in counts.items() if phase == Phase.QUEUED)
    report: dict[str, Any] = {
        "jobs": {f"{t}/{p}": n for (t, p), n in sorted(counts.items())},
        "total": sum(counts.values()),
        "queue_depth": queued,
        "oldest_active": None
        if not oldest
        else {
            "id": oldest[0].job_id,
            "type": oldest[0].job_type,
            "phase": str(oldest[0].phase),
            "created": format_time(oldest[0].creation_time),
            "age_seconds": int((utcnow() - oldest[0].creation_time).total_seconds()),
        },
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    by_type: dict[str, dict[str, int]] = {}
    for (job_type, phase), count in counts.items():
        by_type.setdefault(job_type, {})[str(phase)] = count
    phases = [str(p) for p in Phase if any(str(p) in row for row in by_type.values())]
    print(f"{'type':12} " + " ".join(f"{p:>9}" for p in phases))
    for job_type, row in sorted(by_type.items()):
        print(f"{job_type:12} " + " ".join(f"{row.get(p, 0):>9}" for p in phases))
    print(f"total {report['total']} job(s); queue depth {queued}")
    active = report["oldest_active"]
    print(
        "oldest active job: "
        + (
            "none"
            if active is None
            else f"{active['id']} ({active['type']}, {active['phase']}, created {active['created']}, "
            f"{active['age_seconds']} s ago)"
        )
    )
    return 0


def add_parsers(commands: Any) -> None:
    jobs = commands.add_parser("jobs", help="list, show, abort, delete or requeue jobs")
    verbs = jobs.add_subparsers(dest="verb", required=True)

    def filters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--type", help="only jobs of this type")
        p.add_argument(
            "--phase",
            type=_phase,
            action="append",
            help="only jobs in this phase (repeat for several)",
        )
        p.add_argument("--owner", help="only jobs of this user")
        p.add_argument(
            "--older-than",
            type=_duration,
            metavar="AGE",
            help="only jobs created longer ago than AGE (30m, 12h, 7d)",
        )

    listing = verbs.add_parser("list", help="jobs matching the filters, oldest first")
    listing.add_argument("ini")
    filters(listing)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=list_jobs)
    shown = verbs.add_parser("show", help="one job, as the REST API's JSON form")
    shown.add_argument("ini")
    shown.add_argument("job_id")
    shown.set_defaults(run=show)
    for name, run, what in (
        ("abort", abort, "abort"),
        ("delete", delete, "delete"),
        ("requeue", requeue, "run again as new queued jobs"),
    ):
        verb = verbs.add_parser(name, help=f"{what} the named jobs, or the filtered ones (--all)")
        verb.add_argument("ini")
        verb.add_argument("job_ids", nargs="*", metavar="JOB_ID")
        verb.add_argument("--all", action="store_true", help="every job the filters select")
        filters(verb)
        verb.set_defaults(run=run)
    counted = commands.add_parser("stats", help="jobs by type and phase, queue depth, oldest")
    counted.add_argument("ini")
    counted.add_argument("--json", action="store_true")
    counted.set_defaults(run=stats)
