"""A finished job as a W3C PROV document: the job an activity, its inputs and results entities,
its owner and the service agents, in the IVOA Provenance DM's vocabulary where it maps.

Identifiers are qualified names in the ``service`` namespace, whose URI is the service's own
URL: ``service:rest/echo/<id>`` is the job, ``.../results/<rid>`` a result, ``.../parameters/
<name>`` a parameter, ``service:jdl/echo`` the job type's description. A result of job A given
as a parameter of job B (its URL on this service) is the same entity in both documents: that
is what links them (``chain.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prov.model import (
    PROV,
    PROV_LABEL,
    PROV_LOCATION,
    PROV_ROLE,
    PROV_TYPE,
    PROV_VALUE,
    Namespace,
    ProvDocument,
    ProvEntity,
)

from ..jdl.entities import Used, generated_entities, used_entities
from ..jdl.model import JobDescription, UsedSpec
from ..jobs import Job, Result

#: A record's attributes: (qualified name or "prefix:name", value) pairs, a name repeatable.
Attributes = list[tuple[Any, Any]]

VOPROV = "http://www.ivoa.net/documents/ProvenanceDM/ns/voprov/"
UWS = "http://www.ivoa.net/xml/UWS/v1.0"
VOPROV_NS = Namespace("voprov", VOPROV)
#: What a result URL on this service looks like, after the service's URL.
RESULT_PATH = re.compile(
    r"rest/([A-Za-z][A-Za-z0-9_-]*)/([a-z0-9]+)/results/([A-Za-z_][A-Za-z0-9_.-]*)\Z"
)
JOB_PATH = re.compile(r"rest/([A-Za-z][A-Za-z0-9_-]*)/([a-z0-9]+)\Z")


@dataclass(frozen=True)
class ResultRef:
    """A result of a job of this service, named by its URL."""

    job_type: str
    job_id: str
    result_id: str

    @property
    def path(self) -> str:
        return f"rest/{self.job_type}/{self.job_id}/results/{self.result_id}"


@dataclass(frozen=True)
class Service:
    """How this service names things: its URL (the first of ``bases``, ending in "/"), the
    other URLs it is known by, and its name for the agent that ran the job."""

    bases: tuple[str, ...]
    software: str = "uws-pyramid"

    @property
    def base(self) -> str:
        return self.bases[0]

    def local(self, value: str) -> str | None:
        """The path of ``value`` after one of this service's URLs (or its ``service:``
        qualified-name form), or None when it names something elsewhere."""
        text = value.strip()
        for base in (*self.bases, "service:"):
            if text.startswith(base):
                return text[len(base) :].split("?", 1)[0].split("#", 1)[0]
        return None

    def result_ref(self, value: str) -> ResultRef | None:
        """The result a parameter value names, if it is the URL of a result of this service."""
        path = self.local(value)
        found = RESULT_PATH.match(path) if path is not None else None
        return ResultRef(*found.groups()) if found else None


@dataclass(frozen=True)
class JobFacts:
    """What the document of one job is made from, besides the job's record."""

    job: Job
    description: JobDescription | None
    uploads: frozenset[str] = frozenset()  # names of the file parameters
    upload_sizes: Mapping[str, int] = field(default_factory=dict)
    script: ProvDocument | None = None  # what the job's script wrote, parsed
    notes: tuple[str, ...] = ()  # what is missing from the document, and why
    #: The results of other jobs it used that the caller may read, by ``ResultRef.path``.
    inputs: Mapping[str, Result] = field(default_factory=dict)


def new_document(service: Service) -> ProvDocument:
    doc = ProvDocument()
    doc.add_namespace("service", service.base)
    doc.add_namespace(VOPROV_NS)
    doc.add_namespace("uws", UWS)
    return doc


def job_path(job: Job) -> str:
    return f"rest/{job.job_type}/{job.job_id}"


def add_job(doc: ProvDocument, facts: JobFacts, service: Service) -> None:
    """Add one job's records to ``doc`` (made by ``new_document``)."""
    job, jd = facts.job, facts.description
    here = f"service:{job_path(job)}"
    attributes: Attributes = [
        (PROV_TYPE, VOPROV_NS["Activity"]),
        (PROV_LABEL, f"{job.job_type} job {job.job_id}"),
        ("voprov:name", job.job_type),
        ("uws:phase", str(job.phase)),
        ("uws:creationTime", job.creation_time),
    ]
    if job.run_id:
        attributes.append(("uws:runId", job.run_id))
    if job.error is not None:
        attributes.append(("uws:errorSummary", job.error.message))
    attributes.extend(("uws:provenanceNote", note) for note in facts.notes)
    if jd is not None:
        described = f"service:jdl/{jd.name}"
        attributes.append(("voprov:activityDescription", doc.valid_qualified_name(described)))
        doc.entity(described, _description(jd))
    activity = doc.activity(here, job.start_time, job.end_time, attributes)
    _add_used(doc, activity, facts, service, here)
    for generated in generated_entities(job, jd):
        result, spec = generated.result, generated.spec
        entity = result_entity(doc, service, ResultRef(job.job_type, job.job_id, result.id), result)
        # Each file of a pattern result plays the role its declaration gives (OPUS's role,
        # else the declared id); what the script listed alone, its own id.
        role = (spec.role or spec.id) if spec is not None else result.id
        doc.wasGeneratedBy(entity, activity, job.end_time, other_attributes={PROV_ROLE: role})
    _add_agents(doc, activity, job, service)
    if facts.script is not None:
        _add_script(doc, activity, facts.script, here)


def result_entity(
    doc: ProvDocument, service: Service, ref: ResultRef, result: Result | None
) -> ProvEntity:
    """A result of a job of this service: the same entity, with the same attributes, in the
    document of the job that generated it and of every job that used it (so that documents
    merge), described by what its job computed once when it ended."""
    attributes: Attributes = [
        (PROV_TYPE, VOPROV_NS["Entity"]),
        (PROV_LABEL, f"result {ref.result_id} of job {ref.job_id}"),
        (PROV_LOCATION, service.base + ref.path),
    ]
    if result is not None:
        if result.mime_type:
            attributes.append(("voprov:content_type", result.mime_type))
        if result.size is not None:
            attributes.append(("voprov:content_size", result.size))
        if result.digest:
            attributes.append(("uws:sha256", result.digest))
        if result.description:
            attributes.append(("voprov:description", result.description))
    return doc.entity(f"service:{ref.path}", attributes)


def _description(jd: JobDescription) -> Attributes:
    attributes: Attributes = [
        (PROV_TYPE, VOPROV_NS["ActivityDescription"]),
        ("voprov:name", jd.name),
    ]
    if jd.version:
        attributes.append(("voprov:version", jd.version))
    if jd.description:
        attributes.append(("voprov:description", jd.description))
    return attributes


def _add_used(
    doc: ProvDocument, activity: Any, facts: JobFacts, service: Service, here: str
) -> None:
    """What the job used, each in its role: the description's used entities (OPUS's Used
    group; a WADL description uses each parameter in the role of its name), then the
    parameters none of them names. A parameter is an uploaded file, another job's result
    (the entity of that job's document) or a value."""
    job, jd = facts.job, facts.description
    entries = used_entities(job, jd) if jd is not None else []
    named = {used.spec.ref for used in entries if used.spec.ref}
    entries += [
        Used(UsedSpec(name, ref=name), value)
        for name, value in sorted(job.parameters.items())
        if name not in named
    ]
    for used in entries:
        if used.value is not None:
            spec = used.spec
            entity, usage = _used_entity(doc, facts, service, here, spec, used.value)
            usage[PROV_ROLE] = spec.role or spec.name
            doc.used(activity, entity, None, other_attributes=usage)


def _used_entity(
    doc: ProvDocument, facts: JobFacts, service: Service, here: str, spec: UsedSpec, value: str
) -> tuple[ProvEntity, dict[Any, Any]]:
    """The entity of one used declaration, and the attributes of its usage."""
    parameter = facts.description.parameter(spec.ref) if facts.description and spec.ref else None
    description = spec.description or (parameter.description if parameter else "")
    declared: Attributes = [("voprov:name", spec.name)]
    if description:
        declared.append(("voprov:description", description))
    if spec.content_type:
        declared.append(("voprov:content_type", spec.content_type))
    ref = service.result_ref(value) if spec.ref else None
    if ref is not None:
        # Another job's result keeps its own attributes; what this job's description says
        # of its use goes on the usage.
        return result_entity(doc, service, ref, facts.inputs.get(ref.path)), dict(declared)
    if spec.ref in facts.uploads:
        declared += [(PROV_TYPE, VOPROV_NS["Entity"]), (PROV_LOCATION, value.rsplit("/", 1)[-1])]
        if spec.ref in facts.upload_sizes:
            declared.append(("voprov:content_size", facts.upload_sizes[spec.ref]))
    elif spec.ref:
        declared += [(PROV_TYPE, VOPROV_NS["Parameter"]), (PROV_VALUE, value)]
    else:  # an entity the description names without a parameter (a calibration file...)
        declared.append((PROV_TYPE, VOPROV_NS["Entity"]))
        if spec.default:
            declared.append(("voprov:id", spec.default))
        if spec.url:
            declared.append((PROV_LOCATION, spec.url))
        return doc.entity(f"{here}/used/{spec.name}", declared), {}
    return doc.entity(f"{here}/parameters/{spec.ref}", declared), {}


def _add_agents(doc: ProvDocument, activity: Any, job: Job, service: Service) -> None:
    owner_id = f"service:users/{job.owner_id}" if job.owner_id else "service:users/anonymous"
    owner = doc.agent(
        owner_id,
        [
            (PROV_TYPE, PROV["Person"]),
            (PROV_LABEL, job.owner_id or "an anonymous user"),
            ("voprov:name", job.owner_id or "anonymous"),
        ],
    )
    runner = doc.agent(
        "service:capabilities",
        [
            (PROV_TYPE, PROV["SoftwareAgent"]),
            (PROV_LABEL, service.software),
            ("voprov:name", service.software),
        ],
    )
    doc.wasAssociatedWith(activity, owner, other_attributes={PROV_ROLE: "owner"})
    doc.wasAssociatedWith(activity, runner, other_attributes={PROV_ROLE: "executor"})
    doc.actedOnBehalfOf(runner, owner, activity)


def _add_script(doc: ProvDocument, activity: Any, script: ProvDocument, here: str) -> None:
    """What the job's script wrote, in a bundle of its own: statements the script makes,
    kept apart from the service's (a script cannot speak for the service, or for other
    jobs, through them)."""
    name = f"{here}/provenance/script"
    doc.entity(name, [(PROV_TYPE, PROV["Bundle"]), (PROV_LABEL, "what the job's script recorded")])
    doc.wasGeneratedBy(name, activity)
    bundle = doc.bundle(name)
    bundle.update(script)
