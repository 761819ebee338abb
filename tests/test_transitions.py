"""The phase rules (uws_pyramid.transitions) and the reports managers make through them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid import main
from uws_pyramid.jobs import ACTIVE, ErrorSummary, Phase, Result, utcnow
from uws_pyramid.manager import ManagerContext
from uws_pyramid.plugins import hookimpl
from uws_pyramid.submission import Submission
from uws_pyramid.transitions import (
    RULES,
    Ending,
    Event,
    RuleError,
    after,
    changes,
    rule,
)

from .conftest import ROOT
from .fakes import FakesPlugin, HoldingManager

Q, X, H, S = Phase.QUEUED, Phase.EXECUTING, Phase.HELD, Phase.SUSPENDED
P, C, E, A = Phase.PENDING, Phase.COMPLETED, Phase.ERROR, Phase.ABORTED

# -- the table, as a pure function --------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "current", "outcome", "expected"),
    [
        (Event.RUN, P, None, Q),
        (Event.RUN, H, None, Q),
        (Event.RUN, Q, None, None),
        (Event.ABORTED, X, None, A),
        (Event.ABORTED, P, None, A),
        (Event.ABORTED, C, None, None),
        (Event.ACCEPTED, Q, None, Q),
        (Event.ACCEPTED, X, None, None),  # started elsewhere meanwhile: not taken over
        (Event.SUBMITTED, X, None, X),  # the scheduler ran it before its id was recorded
        (Event.STARTED, Q, None, X),
        (Event.STARTED, S, None, X),  # resumed
        (Event.STARTED, X, None, None),  # a second start: the manager must stop its process
        (Event.STARTED, A, None, None),
        (Event.REQUEUED, X, None, Q),
        (Event.SUSPENDED, X, None, S),
        (Event.PROGRESS, X, None, X),
        (Event.PROGRESS, A, None, None),
        (Event.ENDED, X, C, C),
        (Event.ENDED, Q, E, E),  # ended before its start was recorded
        (Event.ENDED, S, A, A),
        (Event.ENDED, A, C, None),  # aborted meanwhile: the end does not revive it
        (Event.ENDED, C, E, None),  # ended already
        (Event.KEPT, A, None, A),
        (Event.KEPT, C, None, None),
        (Event.FAILED_TO_START, Q, None, E),
        (Event.FAILED_TO_START, X, None, None),
    ],
)
def test_the_phase_after_each_event(
    event: Event, current: Phase, outcome: Phase | None, expected: Phase | None
) -> None:
    assert after(event, current, outcome) == expected


def test_no_manager_event_leaves_a_final_phase() -> None:
    manager_events = set(Event) - {Event.EDITED, Event.RUN, Event.ABORTED, Event.KEPT}
    for event in manager_events:
        for current in (C, E, A, Phase.ARCHIVED):
            assert after(event, current, C if event == Event.ENDED else None) is None


def test_an_end_needs_a_final_outcome_and_only_an_end_has_one() -> None:
    with pytest.raises(RuleError, match="not EXECUTING"):
        rule(Event.ENDED, X)
    with pytest.raises(RuleError, match="not None"):
        rule(Event.ENDED)
    with pytest.raises(RuleError, match="only an end"):
        rule(Event.STARTED, C)


def test_progress_narrows_to_the_phase_the_manager_saw() -> None:
    assert rule(Event.PROGRESS, phase=Q).sources == {Q}
    assert rule(Event.PROGRESS).sources == ACTIVE
    with pytest.raises(RuleError, match="cannot be narrowed"):
        rule(Event.PROGRESS, phase=C)
    with pytest.raises(RuleError, match="cannot be narrowed"):
        rule(Event.STARTED, phase=Q)


def test_an_event_sets_only_its_own_fields() -> None:
    now = utcnow()
    assert changes(rule(Event.STARTED), {"start_time": now}) == {"start_time": now, "phase": X}
    assert changes(rule(Event.PROGRESS), {"job_info": {"a": 1}}) == {"job_info": {"a": 1}}
    with pytest.raises(RuleError, match="cannot set phase, results"):
        changes(rule(Event.PROGRESS), {"results": [], "phase": C})
    # What an abort lets an end keep: the results and jobInfo, never its phase or error.
    assert RULES[Event.KEPT].fields == {"results", "job_info"}


# -- the reports, through a real service (SQLite storage, hooks) -------------------------


class Changes:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    @hookimpl
    def uws_job_phase_changed(self, job: Any, previous: Phase) -> None:
        self.seen.append((str(previous), str(job.phase)))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Any, ManagerContext, Changes]]:
    hooks = Changes()
    app = main(
        {"here": str(tmp_path)},
        **{
            "uws.storage": "sqlite",
            "uws.storage.path": "uws.sqlite",
            "uws.manager": "holding",
            "uws.jdl_dir": str(ROOT / "jdl"),
            "uws.workdir": "jobs",
            "uws.background": "false",
            "uws.auth.anonymous": "true",
            "testing.plugins": [FakesPlugin(), hooks],
        },
    )
    runtime = app.registry.uws
    assert isinstance(runtime.manager, HoldingManager)
    yield runtime, runtime.manager.context, hooks
    runtime.close()


def queued(runtime: Any) -> str:
    return str(runtime.service.create("echo", Submission({"PHASE": "RUN"}), None).job_id)


def test_a_start_then_an_end_fire_the_hooks_once_each(world: Any) -> None:
    runtime, context, hooks = world
    job_id = queued(runtime)
    assert context.started(job_id, start_time=utcnow(), process_id="42") is not None
    assert context.started(job_id, start_time=utcnow()) is None  # a second start is refused
    results = [Result("out", "out.txt", "text/plain", 3)]
    done = context.ended(job_id, Ending(C, utcnow(), results))
    assert done is not None and done.phase == C and done.results == results
    assert done.process_id == "42" and done.error is None
    assert hooks.seen == [
        ("PENDING", "QUEUED"),
        ("QUEUED", "EXECUTING"),
        ("EXECUTING", "COMPLETED"),
    ]


def test_an_end_after_an_abort_keeps_the_results_and_nothing_else(world: Any) -> None:
    runtime, context, hooks = world
    job_id = queued(runtime)
    context.started(job_id, start_time=utcnow())
    aborted = runtime.service.abort(runtime.storage.get(job_id))
    results = [Result("stdout", ".uws/stdout", "text/plain", 1)]
    ending = Ending(E, utcnow(), results, ErrorSummary("killed by signal TERM"))
    assert context.ended(job_id, ending, job_info={"pid": "7"}) is None
    job = runtime.storage.get(job_id)
    assert job.phase == A and job.results == results and job.job_info == {"pid": "7"}
    assert job.error is None and job.end_time == aborted.end_time
    assert hooks.seen[-1] == ("EXECUTING", "ABORTED")


def test_a_failed_start_is_an_error_saying_why(world: Any) -> None:
    runtime, context, _ = world
    job_id = queued(runtime)
    job = context.failed_to_start(job_id, "sbatch: invalid partition")
    assert job is not None and job.phase == E
    assert job.error == ErrorSummary("sbatch: invalid partition")
    assert context.failed_to_start(job_id, "again") is None  # only from QUEUED


def test_progress_is_recorded_only_in_the_phase_the_manager_saw(world: Any) -> None:
    runtime, context, _ = world
    job_id = queued(runtime)
    assert context.progress(job_id, {"slurm_reason": "Resources"}, Q) is not None
    assert context.progress(job_id, {"progress": "0.5"}) is None  # EXECUTING: not yet
    assert runtime.storage.get(job_id).job_info == {"slurm_reason": "Resources"}


def test_resubmitting_a_job_the_manager_refuses_puts_it_in_error(world: Any) -> None:
    runtime, context, _ = world
    job_id = queued(runtime)
    runtime.manager.submit = _refuse
    job = context.resubmit(runtime.storage.get(job_id), "submitting it again failed")
    assert job.phase == E
    assert job.error == ErrorSummary("submitting it again failed: no slot")


def _refuse(job: Any) -> None:
    raise RuntimeError("no slot")
