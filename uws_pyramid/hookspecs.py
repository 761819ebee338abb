"""Every pluggy hook of uws-pyramid, with when it is called, what it returns and since when."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pluggy

if TYPE_CHECKING:
    from .jdl.formats import DescriptionFormat
    from .jobs import Job, Phase
    from .manager import Manager
    from .storage import Storage

hookspec = pluggy.HookspecMarker("uws_pyramid")

F = TypeVar("F", bound=Callable[..., object])


def added(version: str) -> Callable[[F], F]:
    """Mark the plugin API version (``api.PLUGIN_API_VERSION``) a hook first appeared in.

    A hook to be retired gets ``@hookspec(warn_on_impl=DeprecationWarning(...))``: pluggy
    then warns every plugin that still implements it, one API version before removal."""

    def mark(function: F) -> F:
        function.added_in = version  # type: ignore[attr-defined]
        return function

    return mark


@hookspec
@added("1.0")
def uws_storage_classes() -> Sequence[type[Storage]]:  # type: ignore[empty-body]
    """Return the Storage classes this plugin provides. Every implementation runs at start-up.

    Classes are merged by ``cls.name``; two classes with one name stop start-up."""


@hookspec
@added("1.0")
def uws_manager_classes() -> Sequence[type[Manager]]:  # type: ignore[empty-body]
    """Return the Manager classes this plugin provides. Every implementation runs at start-up.

    Classes are merged by ``cls.name``; two classes with one name stop start-up."""


@hookspec
@added("1.0")
def uws_description_formats() -> Sequence[DescriptionFormat]:  # type: ignore[empty-body]
    """Return job description formats (file suffix, reader, writer) beside the built-in WADL
    and VOTable ones. Every implementation runs at start-up; a name or suffix twice stops it."""


@hookspec
@added("1.0")
def uws_job_phase_changed(job: Job, previous: Phase) -> None:
    """Called after storage recorded a new phase of ``job`` (for notifications).

    Runs in the thread that made the change; must be quick and must not raise (an exception
    is logged and ignored)."""


@hookspec
@added("1.0")
def uws_job_deleted(job: Job) -> None:
    """Called after a job and its files were removed (by a user or by destruction)."""


@hookspec
@added("1.0")
def uws_queued_job_info(manager: Manager, job: Job) -> Mapping[str, Any] | None:
    """Called when a client reads a QUEUED ``job`` of ``manager``: jobInfo entries computed
    now and never stored, such as why it waits and how many jobs are ahead of it (a stored
    position would cost a write per waiting job whenever the queue moves). Return None for
    jobs of other managers. Must be quick: it runs in the request (a failure is logged and
    the job shown without them)."""


class _Caller(Protocol):
    """One hook: calling it runs every implementation; the service also reaches each one."""

    name: str

    def __call__(self, **kwargs: object) -> list[object]: ...

    def get_hookimpls(self) -> list[pluggy.HookImpl]: ...


class UWSHooks(Protocol):
    """The type of ``PluginManager.uws``: pluggy's ``pm.hook`` with the hooks above named."""

    uws_storage_classes: _Caller
    uws_manager_classes: _Caller
    uws_description_formats: _Caller
    uws_job_phase_changed: _Caller
    uws_job_deleted: _Caller
    uws_queued_job_info: _Caller
