"""Route contexts with their ACLs: the service, a job type, a job."""

from __future__ import annotations

from typing import Any

from pyramid.authorization import ALL_PERMISSIONS, Allow, Authenticated
from pyramid.request import Request

from ..accounts import ADMIN
from ..errors import Unauthorized
from ..jobs import Job
from .security import ANONYMOUS

#: Permissions: list jobs and read descriptions; create jobs of a type; read and change a
#: job; edit job descriptions (administrators only, who hold every permission).
USE, CREATE, READ, CHANGE, EDIT = "use", "create", "read", "change", "edit"

ADMINS = (Allow, f"role:{ADMIN}", ALL_PERMISSIONS)
USERS = (Authenticated, ANONYMOUS)  # ANONYMOUS is held only when anonymous access is on
#: What every caller allowed in may do: administrators everything, users USE.
SERVICE_ACL = [ADMINS, *((Allow, p, USE) for p in USERS)]
#: The route of one job (``job``): views.job_url fills in the pattern itself.
JOB_PREFIX = "/rest/"
JOB_PATTERN = JOB_PREFIX + "{jobtype}/{job_id}"


def require_login(request: Request) -> None:
    """401 before anything is looked up, so that strangers learn nothing of jobs."""
    # The setting first: with anonymous access on, no identity is needed here (the screen
    # tween has already refused bad credentials).
    if not request.registry.uws_settings.anonymous and request.identity is None:
        raise Unauthorized("log in to use this service")


class ServiceRoot:
    """The default context: job lists of all types and the job descriptions."""

    __acl__: list[Any] = SERVICE_ACL

    def __init__(self, request: Request) -> None:
        self.request = request

    def denial(self, permission: str) -> str:
        if permission == EDIT:
            return "only administrators may edit job descriptions"
        return f"permission {permission!r} denied"


class JobTypeResource:
    """/rest/{jobtype}: anyone may list (their own jobs); creating may need a role."""

    def __init__(self, request: Request) -> None:
        require_login(request)
        self.job_type = request.matchdict["jobtype"]
        self.role = request.registry.uws_settings.type_roles.get(self.job_type)
        creators = [f"role:{self.role}"] if self.role else USERS
        self.__acl__ = [*SERVICE_ACL, *((Allow, p, CREATE) for p in creators)]

    def denial(self, permission: str) -> str:
        if permission == CREATE and self.role:
            return f"creating jobs of type {self.job_type} needs the role {self.role!r}"
        return f"permission {permission!r} denied on job type {self.job_type}"


def job_acl(job: Job) -> list[Any]:
    """Who may read and change a job: its owner (anonymous callers, for an anonymous job)."""
    owner = job.owner_id
    # The owner first: every entry allows, so the order changes nothing but how soon
    # Pyramid finds the owner's (most requests are theirs).
    return [(Allow, f"user:{owner}" if owner else ANONYMOUS, (READ, CHANGE)), ADMINS]


class JobAccess:
    """A job found otherwise than by its URL (a provenance walk), with the ACL of its URL."""

    def __init__(self, job: Job) -> None:
        self.__acl__ = job_acl(job)


def may_read(request: Request, job: Job) -> bool:
    return bool(request.has_permission(READ, JobAccess(job)))


class JobContext:
    """One job and everything under it: its owner's (anonymous jobs: anonymous callers')."""

    def __init__(self, request: Request) -> None:
        require_login(request)
        match = request.matchdict
        self.job: Job = request.jobs.get(match["jobtype"], match["job_id"])
        self.__acl__ = job_acl(self.job)

    def denial(self, permission: str) -> str:
        return f"job {self.job.job_id} belongs to another user"
