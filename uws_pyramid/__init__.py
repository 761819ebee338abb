"""uws-pyramid: an IVOA UWS 1.1 job service built on Pyramid."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .console import install_excepthook

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pyramid.router import Router


def main(global_config: dict[str, Any], **settings: Any) -> Router:
    """The WSGI application: the ini's settings, then one include per concern."""
    # Imported here, not with the package: uws-admin needs none of Pyramid's configuration
    # machinery, and answers faster without it.
    from pyramid.config import Configurator

    install_excepthook()
    settings.setdefault("here", global_config.get("here", "."))
    with Configurator(settings=settings) as config:
        config.include(".settings")
        config.include(".logs")  # before anything logs: start-up lines are in the format too
        config.include(".runtime")
        config.include(".web")
        config.include(".client")
    app = config.make_wsgi_app()
    # Once the whole application is built: the listeners of its passes (metrics, logs) are
    # attached by the later includes, and the first pass is made at once.
    if app.registry.uws_settings.background:
        app.registry.uws.background.start()
    return app
