"""What a job's provenance document is made from, gathered on request: the job's record, its
description, its uploads and the file its script may write. Nothing here runs while the job
runs, and nothing here can fail a job: what cannot be read is noted in the document."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from prov.model import ProvDocument

from ..errors import Conflict, NotFound
from ..execution import jobfiles
from ..jdl.model import JobDescription
from ..jobs import FINAL, Job, Result
from ..service import JobService
from .document import JobFacts, Service, add_job, new_document

log = logging.getLogger(__name__)

#: The file a job's script may write in its working directory: PROV-JSON, merged in.
SCRIPT_FILE = "provenance.json"
#: Largest script file read; beyond, it is left out (and the document says so).
SCRIPT_MAX_BYTES = 1 << 20
#: Most records taken from a script's file.
SCRIPT_MAX_RECORDS = 1000
#: Values of the job description option ``provenance`` that turn provenance off.
OFF = frozenset({"false", "no", "0", "off"})


def enabled(jd: JobDescription | None) -> bool:
    """Provenance is on unless the job type's description says ``provenance = false``."""
    return jd is None or jd.options.get("provenance", "true").strip().lower() not in OFF


class Provenance:
    """Builds the documents of jobs, as the service stores them; ``readable`` says whether
    the caller may read a job (the results of other jobs a job used are described only then)."""

    def __init__(self, jobs: JobService, service: Service, readable: Callable[[Job], bool]) -> None:
        self.jobs = jobs
        self.service = service
        self.readable = readable

    def description(self, job: Job) -> JobDescription | None:
        try:
            return self.jobs.descriptions.get(job.job_type)
        except NotFound:
            return None  # its type is gone: the job's own record still tells most

    def check(self, job: Job) -> JobDescription | None:
        """The job's description, once checked that the job has a provenance document:
        Conflict while it has not finished, NotFound when its type keeps none."""
        if job.phase not in FINAL:
            raise Conflict(
                f"job {job.job_id} is {job.phase}: its provenance is known once it has finished"
            )
        jd = self.description(job)
        if not enabled(jd):
            raise NotFound(
                f"job type {job.job_type} keeps no provenance (its description "
                "sets provenance = false)"
            )
        return jd

    def document(self, jobs: list[Job]) -> ProvDocument:
        """One document for these (finished, checked) jobs, shared entities merged."""
        doc = new_document(self.service)
        for job in jobs:
            add_job(doc, self.facts(job), self.service)
        return doc.unified() if len(jobs) > 1 else doc

    def facts(self, job: Job) -> JobFacts:
        jd = self.description(job)
        notes: list[str] = []
        if jd is None:
            notes.append(
                f"the description of job type {job.job_type} is gone: parameter "
                "and result descriptions are missing"
            )
        uploads = self.jobs.uploads(job)
        script = self._script(job, notes)
        sizes = self._sizes(job, uploads)
        facts = JobFacts(job, jd, uploads, sizes, script, tuple(notes), self._inputs(job))
        if script is not None and not _servable(facts, self.service):
            notes.append(
                f"{SCRIPT_FILE} written by the job's script was left out: it "
                "cannot be serialised in every format"
            )
            facts = dataclasses.replace(facts, script=None, notes=tuple(notes))
        return facts

    def _inputs(self, job: Job) -> dict[str, Result]:
        """The results of other jobs of this service ``job`` has as parameters, as their jobs
        recorded them, for those the caller may read (gone ones are left out)."""
        found: dict[str, Result] = {}
        for value in job.parameters.values():
            ref = self.service.result_ref(value)
            if ref is None or ref.path in found:
                continue
            try:
                producer = self.jobs.storage.get(ref.job_id)
            except NotFound:
                continue  # deleted since: the entity stays, as the URL the job was given
            result = producer.result(ref.result_id)
            if producer.job_type == ref.job_type and result is not None and self.readable(producer):
                found[ref.path] = result
        return found

    def _sizes(self, job: Job, uploads: frozenset[str]) -> dict[str, int]:
        root = self.jobs.job_dir(job.job_id).path
        sizes = {}
        for name in uploads:
            if name in job.parameters:
                try:
                    sizes[name] = jobfiles.stat_file(root, job.parameters[name]).st_size
                except (jobfiles.Refused, OSError):
                    pass  # gone (archived, deleted): the document leaves the size out
        return sizes

    def _script(self, job: Job, notes: list[str]) -> ProvDocument | None:
        """The script's PROV-JSON file, parsed; None (and a note) for anything wrong."""
        try:
            return self._read_script(job)
        except LeftOut as exc:
            log.warning("job %s: %s left out of its provenance: %s", job.job_id, SCRIPT_FILE, exc)
            notes.append(f"{SCRIPT_FILE} written by the job's script was left out: {exc}")
            return None

    def _read_script(self, job: Job) -> ProvDocument | None:
        root = self.jobs.job_dir(job.job_id).path
        try:
            stream, st = jobfiles.open_file(root, SCRIPT_FILE)
        except FileNotFoundError:
            return None
        except (jobfiles.Refused, OSError) as exc:
            raise LeftOut(f"it cannot be read ({exc})") from None
        with stream:
            if st.st_size > SCRIPT_MAX_BYTES:
                raise LeftOut(f"it has {st.st_size} bytes, more than {SCRIPT_MAX_BYTES}")
            data = stream.read(SCRIPT_MAX_BYTES + 1)
        try:
            script = ProvDocument.deserialize(content=data.decode("utf-8"), format="json")
        except Exception as exc:  # the prov parser raises many kinds; the file is the job's
            raise LeftOut(f"it is not PROV-JSON ({type(exc).__name__}: {str(exc)[:200]})") from None
        if script.has_bundles():
            raise LeftOut("it has bundles (only plain records are merged)")
        count = len(list(script.get_records()))
        if count > SCRIPT_MAX_RECORDS:
            raise LeftOut(f"it has {count} records, more than {SCRIPT_MAX_RECORDS}")
        return script


class LeftOut(Exception):
    """Why the script's file is not merged (the document says it)."""


def _servable(facts: JobFacts, service: Service) -> bool:
    """Whether the document with the script's records serialises in every text format (XML
    holds fewer characters than JSON, a name valid in one may not be in another)."""
    doc = new_document(service)
    try:
        add_job(doc, facts, service)
        for fmt in ("xml", "provn", "json"):
            doc.serialize(format=fmt)
    except Exception as exc:
        log.warning("job %s: %s not servable: %s", facts.job.job_id, SCRIPT_FILE, exc)
        return False
    return True
