"""Checking the parameter values a client sends against a job description."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ..errors import BadRequest, InvalidValue
from .model import JobDescription, ParameterSpec

log = logging.getLogger(__name__)


def validate_parameters(
    jd: JobDescription, values: Mapping[str, str], *, complete: bool
) -> dict[str, str]:
    """Return ``values`` keyed by the declared names, in declaration order, once all are valid.

    Client names match declared names in any letter case. With ``complete`` (job creation)
    required parameters must be present and defaults fill the absent ones; without it (update of
    a pending job) only the given values are checked. Values are returned exactly as given.
    """
    given: dict[str, str] = {}
    unknown: list[str] = []
    for key, value in values.items():
        spec = jd.parameter(key)
        if spec is None:
            unknown.append(key)
            continue
        if spec.name in given:
            raise BadRequest(f"Parameter {spec.name} is given more than once")
        _check(spec, value)
        given[spec.name] = value
    if unknown:
        accepted = ", ".join(p.name for p in jd.parameters) or "none"
        raise BadRequest(
            f"Unknown parameter(s) {', '.join(sorted(unknown))} for job type {jd.name}; "
            f"accepted parameters: {accepted}"
        )
    if complete:
        missing = [p.name for p in jd.parameters if p.required and p.name not in given]
        if missing:
            raise BadRequest(f"Missing required parameter(s): {', '.join(missing)}")
        for spec in jd.parameters:
            if spec.name not in given and spec.default is not None:
                given[spec.name] = spec.default
    return {p.name: given[p.name] for p in jd.parameters if p.name in given}


def _check(spec: ParameterSpec, value: str) -> None:
    if not isinstance(value, str):
        # The web layer passes uploads by file name; anything else is a programming error.
        raise TypeError(f"parameter {spec.name}: expected a str value, got {type(value).__name__}")
    try:
        spec.check(value)
    except ValueError:
        raise InvalidValue(spec.name, spec.expected, value) from None
