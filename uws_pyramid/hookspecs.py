"""Every pluggy hook of uws-pyramid, with when it is called and what it returns."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .jdl.formats import DescriptionFormat
    from .jobs import Job, Phase
    from .manager import Manager
    from .storage import Storage

hookspec = pluggy.HookspecMarker("uws_pyramid")


@hookspec
def uws_storage_classes() -> Sequence[type[Storage]]:  # type: ignore[empty-body]
    """Return the Storage classes this plugin provides. Every implementation runs at start-up.

    Classes are merged by ``cls.name``; two classes with one name stop start-up."""


@hookspec
def uws_manager_classes() -> Sequence[type[Manager]]:  # type: ignore[empty-body]
    """Return the Manager classes this plugin provides. Every implementation runs at start-up.

    Classes are merged by ``cls.name``; two classes with one name stop start-up."""


@hookspec
def uws_description_formats() -> Sequence[DescriptionFormat]:  # type: ignore[empty-body]
    """Return job description formats (file suffix, reader, writer) beside the built-in WADL
    and VOTable ones. Every implementation runs at start-up; a name or suffix twice stops it."""


@hookspec
def uws_job_phase_changed(job: Job, previous: Phase) -> None:
    """Called after storage recorded a new phase of ``job`` (for notifications).

    Runs in the thread that made the change; must be quick and must not raise (an exception
    is logged and ignored)."""


@hookspec
def uws_job_deleted(job: Job) -> None:
    """Called after a job and its files were removed (by a user or by destruction)."""
