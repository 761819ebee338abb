"""uws-slurm: the SLURM job manager plugin of uws-pyramid."""
from __future__ import annotations

from collections.abc import Sequence

from uws_pyramid.manager import Manager
from uws_pyramid.plugins import hookimpl

from .manager import SlurmManager

__version__ = "0.1.0"


@hookimpl
def uws_manager_classes() -> Sequence[type[Manager]]:
    return [SlurmManager]
