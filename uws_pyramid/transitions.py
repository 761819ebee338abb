"""The phase rules of UWS jobs: what each event may change, from which phases (pure domain).

Managers report facts about their jobs (it started, it ended with this outcome, it could not
be started); the service turns each fact into one compare-and-set of the storage with the
rule below, so that a manager never states a phase rule of its own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from .jobs import ABORTABLE, ACTIVE, ErrorSummary, Phase, Result


class Event(StrEnum):
    # What the service does on a client's request.
    EDITED = "edited"  # parameters or control values changed
    RUN = "run"
    ABORTED = "aborted"
    # What managers report.
    ACCEPTED = "accepted"  # the manager took the job in hand (jobInfo names it)
    SUBMITTED = "submitted"  # the scheduler knows the job under process_id
    STARTED = "started"
    REQUEUED = "requeued"  # the scheduler put the job back in its queue
    SUSPENDED = "suspended"
    PROGRESS = "progress"  # new jobInfo of a job still in the phase the manager names
    ENDED = "ended"  # the job's process is over: COMPLETED, ERROR or ABORTED
    KEPT = "kept"  # an end that came after the service aborted the job: its results kept
    FAILED_TO_START = "failed_to_start"


#: The phases a job may end in.
OUTCOMES = frozenset({Phase.COMPLETED, Phase.ERROR, Phase.ABORTED})


@dataclass(frozen=True)
class Rule:
    """An event applies to a job in one of ``sources``, moves it to ``target`` (None: the
    phase stays) and sets only ``fields``."""

    sources: frozenset[Phase]
    target: Phase | None
    fields: frozenset[str]


def _rule(sources: frozenset[Phase], target: Phase | None, *fields: str) -> Rule:
    return Rule(sources, target, frozenset(fields))


_INFO = ("job_info",)
RULES: Mapping[Event, Rule] = {
    Event.EDITED: _rule(
        frozenset({Phase.PENDING}),
        None,
        "parameters",
        "execution_duration",
        "destruction",
        "run_id",
    ),
    Event.RUN: _rule(frozenset({Phase.PENDING, Phase.HELD}), Phase.QUEUED),
    Event.ABORTED: _rule(ABORTABLE, Phase.ABORTED, "end_time"),
    # QUEUED only: a job that moved on meanwhile (another server process started it) is not
    # taken over.
    Event.ACCEPTED: _rule(frozenset({Phase.QUEUED}), None, *_INFO),
    # Any active phase: the scheduler may report the job running before its id is recorded.
    Event.SUBMITTED: _rule(ACTIVE, None, "process_id", *_INFO),
    # Not from EXECUTING: a start is exclusive, a second one must stop its process.
    Event.STARTED: _rule(
        ACTIVE - {Phase.EXECUTING}, Phase.EXECUTING, "start_time", "process_id", *_INFO
    ),
    Event.REQUEUED: _rule(ACTIVE - {Phase.QUEUED}, Phase.QUEUED, *_INFO),
    Event.SUSPENDED: _rule(ACTIVE - {Phase.SUSPENDED}, Phase.SUSPENDED, *_INFO),
    Event.PROGRESS: _rule(ACTIVE, None, *_INFO),
    # The target is the end's outcome (see ``rule``).
    Event.ENDED: _rule(ACTIVE, None, "end_time", "results", "error", "start_time", *_INFO),
    # UWS: an aborted job keeps the results it made; its phase, times and error stay.
    Event.KEPT: _rule(frozenset({Phase.ABORTED}), None, "results", *_INFO),
    Event.FAILED_TO_START: _rule(frozenset({Phase.QUEUED}), Phase.ERROR, "end_time", "error"),
}

#: What is tried when an event finds the job in none of its source phases.
FALLBACK: Mapping[Event, Event] = {Event.ENDED: Event.KEPT}


class RuleError(ValueError):
    """A manager reported a fact the rules cannot apply (a programming error)."""


def rule(event: Event, outcome: Phase | None = None, phase: Phase | None = None) -> Rule:
    """The rule of ``event``: ``outcome`` is an end's phase (ENDED only); ``phase`` narrows
    PROGRESS to the active phase the manager saw the job in (its compare-and-set)."""
    found = RULES[event]
    if event == Event.ENDED:
        if outcome not in OUTCOMES:
            raise RuleError(f"a job ends COMPLETED, ERROR or ABORTED, not {outcome}")
        return Rule(found.sources, outcome, found.fields)
    if outcome is not None:
        raise RuleError(f"only an end has an outcome, not {event}")
    if phase is not None:
        if event != Event.PROGRESS or phase not in found.sources:
            raise RuleError(f"{event} cannot be narrowed to {phase}")
        return Rule(frozenset({phase}), None, found.fields)
    return found


def after(event: Event, current: Phase, outcome: Phase | None = None) -> Phase | None:
    """The phase of a job in ``current`` after ``event`` (the same phase for an event that
    changes none), or None if the event does not apply to it: the table as a function."""
    found = rule(event, outcome)
    if current not in found.sources:
        return None
    return found.target or current


def changes(found: Rule, facts: Mapping[str, Any]) -> dict[str, Any]:
    """The storage changes of an event: its facts and its target phase; RuleError for a fact
    the rule does not let the event set."""
    extra = set(facts) - found.fields
    if extra:
        raise RuleError(f"cannot set {', '.join(sorted(extra))} with this event")
    result = dict(facts)
    if found.target is not None:
        result["phase"] = found.target
    return result


@dataclass(frozen=True)
class Ending:
    """How a job ended, as its manager found it."""

    outcome: Phase  # COMPLETED, ERROR or ABORTED
    end_time: datetime
    results: list[Result] | None = None  # None: known later (the process still ends)
    error: ErrorSummary | None = None
