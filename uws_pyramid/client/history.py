"""The saved versions of a job description, for the editor: list them and read one back."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from ..errors import NotFound
from ..jdl import JDLError, read_wadl
from ..web.resources import EDIT
from .editor import json_response, require_editor

#: The registry's names in .history/: <name>.<stamp>.wadl and <name>.<stamp>.sh.
STAMP = re.compile(r"^\d{8}T\d{6}\.\d{6}Z$")
STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"


def _history(request: Request) -> tuple[str, Path]:
    require_editor(request)
    name = request.matchdict["jobtype"]
    descriptions = request.jobs.descriptions
    if name not in descriptions.names() and name not in descriptions.broken:
        raise NotFound(f"unknown job type '{name}'")
    return name, Path(descriptions.directory) / ".history"


def list_versions(request: Request) -> Response:
    """The earlier versions of a job type, newest first: their stamps and save times."""
    name, history = _history(request)
    versions = []
    # A job type's name is letters, digits, "_" and "-": nothing a glob would read otherwise.
    for path in history.glob(f"{name}.*.wadl"):
        stamp = path.name[len(name) + 1 : -len(".wadl")]
        if not STAMP.match(stamp):
            continue
        saved = datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=timezone.utc)
        versions.append(
            {
                "stamp": stamp,
                "replaced": saved.isoformat(timespec="seconds"),
                "script": (history / f"{name}.{stamp}.sh").is_file(),
            }
        )
    versions.sort(key=lambda v: str(v["stamp"]), reverse=True)
    return json_response({"name": name, "versions": versions})


def get_version(request: Request) -> Response:
    """One earlier version: its description (as the editor's JSON), WADL and script (or null:
    that save kept the script)."""
    name, history = _history(request)
    stamp = request.matchdict["stamp"]
    wadl = history / f"{name}.{stamp}.wadl"
    if not STAMP.match(stamp) or not wadl.is_file():
        raise NotFound(f"job type '{name}' has no version {stamp!r}")
    data = wadl.read_bytes()
    try:
        jd = read_wadl(data, wadl.name)
    except JDLError as exc:
        raise NotFound(f"version {stamp} of '{name}' cannot be read: {exc.reason}") from None
    script = history / f"{name}.{stamp}.sh"
    return json_response(
        {
            "name": name,
            "stamp": stamp,
            "description": jd.to_json(),
            "wadl": data.decode("utf-8"),
            "script": script.read_text(encoding="utf-8") if script.is_file() else None,
        }
    )


def includeme(config: Configurator) -> None:
    config.add_route("jdl_history", "/jdl/{jobtype}/history")
    config.add_route("jdl_version", "/jdl/{jobtype}/history/{stamp}")
    config.add_view(
        list_versions, route_name="jdl_history", request_method=("GET", "HEAD"), permission=EDIT
    )
    config.add_view(
        get_version, route_name="jdl_version", request_method=("GET", "HEAD"), permission=EDIT
    )
