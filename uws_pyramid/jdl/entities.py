"""What a job used and generated, as its description declares them (for provenance)."""

from __future__ import annotations

from dataclasses import dataclass

from ..jobs import Job, Result
from .model import JobDescription, ResultSpec, UsedSpec


@dataclass(frozen=True)
class Used:
    """An entity of the description's Used group and the job's value for it (None: the
    parameter ``spec.ref`` names was not given; "" for an entity that names no parameter)."""

    spec: UsedSpec
    value: str | None


@dataclass(frozen=True)
class Generated:
    """A result of the job (size, media type, SHA-256, description) and the declaration it
    comes from (None: listed by the script's manifest under an id of its own, or stdout/stderr)."""

    result: Result
    spec: ResultSpec | None


def used_entities(job: Job, jd: JobDescription) -> list[Used]:
    """The description's used entities with the job's parameter values, in declared order.
    A description without a Used group (WADL) uses each parameter the job has a value for."""
    if not jd.used:
        return [
            Used(UsedSpec(p.name, ref=p.name, description=p.description), job.parameters[p.name])
            for p in jd.parameters
            if p.name in job.parameters
        ]
    return [Used(spec, job.parameters.get(spec.ref) if spec.ref else "") for spec in jd.used]


def generated_entities(job: Job, jd: JobDescription | None) -> list[Generated]:
    """Every result of the job, each with its declaration when it has one."""
    specs = {spec.id: spec for spec in jd.results} if jd is not None else {}
    return [Generated(r, specs.get(r.declared) if r.declared else None) for r in job.results]
