"""HTTP layer: routes, contexts with ACLs, thin views, UWS XML/JSON renderers, errors."""

from __future__ import annotations

from pyramid.config import Configurator

from .requests import UWSRequest
from .resources import JOB_PATTERN, USE, JobContext, JobTypeResource, ServiceRoot


def includeme(config: Configurator) -> None:
    config.set_request_factory(UWSRequest)
    # First of all routes (Pyramid tries them in order, a regular expression each): a job
    # and the job lists take most requests. No other route matches their paths.
    config.add_route("job", JOB_PATTERN, factory=JobContext)
    config.add_route("jobs", "/rest/{jobtype}", factory=JobTypeResource)
    config.include(".limits")
    config.include(".cors")
    config.include(".security")
    config.include(".observe")
    config.include(".openapi")
    config.set_root_factory(ServiceRoot)
    # Views that name no permission need USE: public views say so with NO_PERMISSION_REQUIRED.
    config.set_default_permission(USE)
    config.add_route("home", "/")
    config.add_route("capabilities", "/capabilities")
    config.add_route("availability", "/availability")
    config.add_route("jdl_list", "/jdl")
    config.add_route("jdl", "/jdl/{jobtype}")
    config.add_route("jdl_json", "/jdl/{jobtype}/json")
    config.add_route("job_event", "/events/{job_id}")
    config.add_route("provenance", "/provenance")
    config.add_route("sync", "/sync/{jobtype}", factory=JobTypeResource)
    config.add_route("all_jobs", "/rest")
    config.add_route(
        "job_parameter", "/rest/{jobtype}/{job_id}/parameters/{name}", factory=JobContext
    )
    config.add_route(
        "job_result", "/rest/{jobtype}/{job_id}/results/{result_id}", factory=JobContext
    )
    config.add_route("job_results_zip", "/rest/{jobtype}/{job_id}/results.zip", factory=JobContext)
    config.add_route("job_provenance", "/rest/{jobtype}/{job_id}/provenance", factory=JobContext)
    config.add_route("job_property", "/rest/{jobtype}/{job_id}/{prop}", factory=JobContext)
    config.scan(".views")
    config.scan(".service_views")
    config.scan(".provenance")
    config.scan(".sync")
    config.scan(".errors")
