"""HTTP layer: routes, thin views, UWS XML/JSON renderers, error rendering."""
from __future__ import annotations

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    config.add_route("home", "/")
    config.add_route("capabilities", "/capabilities")
    config.add_route("availability", "/availability")
    config.add_route("jdl_list", "/jdl")
    config.add_route("jdl", "/jdl/{jobtype}")
    config.add_route("jdl_json", "/jdl/{jobtype}/json")
    config.add_route("job_event", "/events/{job_id}")
    config.add_route("all_jobs", "/rest")
    config.add_route("jobs", "/rest/{jobtype}")
    config.add_route("job", "/rest/{jobtype}/{job_id}")
    config.add_route("job_parameter", "/rest/{jobtype}/{job_id}/parameters/{name}")
    config.add_route("job_result", "/rest/{jobtype}/{job_id}/results/{result_id}")
    config.add_route("job_property", "/rest/{jobtype}/{job_id}/{prop}")
    config.scan(".views")
    config.scan(".service_views")
    config.scan(".errors")
