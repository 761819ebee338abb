"""The browser client: static pages and the JavaScript UWS library, served under /client/."""
from __future__ import annotations

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound
from pyramid.request import Request


def client_home(request: Request) -> HTTPFound:
    return HTTPFound(location=request.static_url("uws_pyramid.client:static/index.html"))


def includeme(config: Configurator) -> None:
    config.add_static_view("client/static", "uws_pyramid.client:static", cache_max_age=3600)
    config.add_route("client_home", "/client/")
    config.add_view(client_home, route_name="client_home")
