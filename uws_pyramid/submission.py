"""What a client submits: UWS control values, job parameters and uploads, parsed and limited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import BinaryIO

from .errors import BadRequest, InvalidValue
from .execution.workdir import JobDir
from .jdl import JobDescription, validate_parameters
from .jobs import utcnow
from .settings import UWSSettings
from .timeparse import parse_datetime, parse_int

#: UWS job control parameters: never job parameters (UWS 1.1 section 2.2.3).
CONTROL = frozenset({"PHASE", "RUNID", "EXECUTIONDURATION", "DESTRUCTION", "ACTION"})


@dataclass(frozen=True)
class Upload:
    """A file sent with multipart/form-data for a ``file`` parameter."""

    name: str
    filename: str
    stream: BinaryIO


@dataclass
class Submission:
    """What a client POSTed: UWS control values (upper-case names), job parameters, files."""

    control: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)

    @property
    def touches_parameters(self) -> bool:
        return bool(self.parameters or self.uploads)


#: UWS 1.1 section 2.2.3.1.1: the value ``param:<part>`` names the multipart part that
#: holds a parameter's content.
PARAM_SCHEME = "param:"


def resolve_inline(sub: Submission) -> None:
    """Give each file that a parameter refers to as ``param:<part>`` that parameter's name
    (a part referred to by no parameter keeps its own name, as before)."""
    parts = {upload.name: i for i, upload in enumerate(sub.uploads)}
    for name, value in list(sub.parameters.items()):
        if value[: len(PARAM_SCHEME)].lower() != PARAM_SCHEME:
            continue
        index = parts.pop(value[len(PARAM_SCHEME) :], None)
        if index is not None:
            upload = sub.uploads[index]
            sub.uploads[index] = Upload(name, upload.filename, upload.stream)
            del sub.parameters[name]


def check_limits(sub: Submission, settings: UWSSettings) -> None:
    """Refuse a request with too many values, or too long a value, before it is parsed
    further (distinct names are counted: a repeated name keeps only its last value)."""
    count = len(sub.control) + len(sub.parameters) + len(sub.uploads)
    if count > settings.limit_parameters:
        raise BadRequest(
            f"too many parameters: {count}; at most {settings.limit_parameters} are "
            f"accepted in one request (uws.limits.parameters)"
        )
    longest = settings.limit_parameter_length
    for name, value in (*sub.control.items(), *sub.parameters.items()):
        if len(value) > longest:
            raise InvalidValue(
                name, f"at most {longest} characters (uws.limits.parameter_length)", value
            )


def phase_request(sub: Submission, allowed: tuple[str, ...]) -> str | None:
    """The PHASE asked for (upper case), if any; InvalidValue unless one of ``allowed``."""
    value = sub.control.get("PHASE")
    if value is None:
        return None
    phase = value.strip().upper()
    if phase not in allowed:
        raise InvalidValue("PHASE", " or ".join(allowed), value)
    return phase


def parameters(jd: JobDescription, sub: Submission, *, complete: bool) -> dict[str, str]:
    """The job parameters of a submission, checked against the description (an uploaded
    file's value is its path in the job's directory)."""
    values = dict(sub.parameters)
    for name, value in values.items():
        spec = jd.parameter(name)
        if spec is not None and spec.type == "file":
            raise InvalidValue(spec.name, "a file sent with multipart/form-data", value)
    for upload in sub.uploads:
        spec = jd.parameter(upload.name)
        if spec is not None and spec.type != "file":
            raise InvalidValue(spec.name, f"a value of type {spec.type}, not a file")
        values[upload.name] = JobDir.upload_path(upload.name, upload.filename)
    return validate_parameters(jd, values, complete=complete)


def execution_duration(jd: JobDescription, requested: str | None, settings: UWSSettings) -> int:
    """EXECUTIONDURATION in seconds: the asked value (or the default), capped."""
    cap = jd.max_execution_duration or settings.execution_duration_max
    if requested is None:
        value = jd.execution_duration or settings.execution_duration_default
    else:
        value = parse_int(
            "EXECUTIONDURATION", requested, 0, "a whole number of seconds >= 0 (0: no limit)"
        )
    # A client asking for more than the maximum (or for no limit) gets the maximum.
    if cap and (value == 0 or value > cap):
        value = cap
    return value


def destruction(
    created: datetime, requested: str | None, jd: JobDescription, settings: UWSSettings
) -> datetime | None:
    """DESTRUCTION: the asked time (or the default after ``created``), capped."""
    cap = settings.destruction_max
    latest = created + timedelta(seconds=cap) if cap else None
    if requested is None:
        default = jd.destruction or settings.destruction_default
        value = created + timedelta(seconds=default) if default else None
    else:
        value = parse_datetime("DESTRUCTION", requested)
        if value <= utcnow():
            raise InvalidValue("DESTRUCTION", "a time in the future", requested)
    if latest is not None and (value is None or value > latest):
        value = latest
    return value
