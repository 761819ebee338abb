"""Job descriptions (JDL): the model, the WADL reader and writer, parameter checks, the registry."""
from __future__ import annotations

from .model import CONTROL_NAMES, FrozenOptions, JobDescription, ParameterSpec, ResultSpec
from .registry import JobDescriptions
from .validate import validate_parameters
from .wadl import JDLError, read_wadl, write_wadl

__all__ = [
    "CONTROL_NAMES",
    "FrozenOptions",
    "JDLError",
    "JobDescription",
    "JobDescriptions",
    "ParameterSpec",
    "ResultSpec",
    "read_wadl",
    "validate_parameters",
    "write_wadl",
]
