"""Job descriptions (JDL): the model, the WADL reader and writer, parameter checks, the registry."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .model import CONTROL_NAMES, FrozenOptions, JobDescription, ParameterSpec, ResultSpec
from .validate import validate_parameters

if TYPE_CHECKING:
    from .formats import JDLError
    from .registry import JobDescriptions
    from .wadl import read_wadl, write_wadl

#: Imported on first use: the WADL reader needs lxml, the model (what plugins and uws-admin
#: use) does not.
_LAZY = {
    "JobDescriptions": ".registry",
    "JDLError": ".formats",
    "read_wadl": ".wadl",
    "write_wadl": ".wadl",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
