"""Plugin discovery: the hookimpl marker, the plugin manager and backend selection by name."""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points
from typing import TypeVar

import pluggy

from . import hookspecs
from .errors import ConfigurationError

log = logging.getLogger(__name__)

GROUP = "uws_pyramid"
hookimpl = pluggy.HookimplMarker(GROUP)

T = TypeVar("T")


def make_plugin_manager(extra: Iterable[object] = ()) -> pluggy.PluginManager:
    """A plugin manager with every installed ``uws_pyramid`` entry point, plus ``extra``.

    A plugin that fails to import is reported by its entry point's name and left out, so
    one broken package does not take the others down; selecting it by name then fails
    with that reason."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    pm.broken = {}  # type: ignore[attr-defined]
    for ep in entry_points(group=GROUP):
        if pm.has_plugin(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # any import-time fault of a third-party package
            log.error("uws plugin %r (%s) failed to load: %s", ep.name, ep.value, exc)
            pm.broken[ep.name] = f"{type(exc).__name__}: {exc}"  # type: ignore[attr-defined]
            continue
        pm.register(plugin, name=ep.name)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return pm


def classes_by_name(results: Iterable[Iterable[type[T]]], kind: str) -> dict[str, type[T]]:
    """Merge the classes returned by every implementation of a ``*_classes`` hook."""
    found: dict[str, type[T]] = {}
    for classes in results:
        for cls in classes:
            name = getattr(cls, "name", None)
            if not isinstance(name, str) or not name:
                raise ConfigurationError(f"{kind} class {cls!r} has no name")
            if name in found and found[name] is not cls:
                raise ConfigurationError(
                    f"two {kind} classes are named {name!r}: {found[name]!r} and {cls!r}"
                )
            found[name] = cls
    return found


def select(pm: pluggy.PluginManager, kind: str, name: str) -> type:
    """The storage or manager class called ``name``, or a ConfigurationError that helps."""
    hook = pm.hook.uws_storage_classes if kind == "storage" else pm.hook.uws_manager_classes
    found = classes_by_name(hook(), kind)
    if name in found:
        return found[name]
    broken: Mapping[str, str] = getattr(pm, "broken", {})
    if name in broken:
        raise ConfigurationError(f"uws.{kind} = {name}: the plugin failed to load: {broken[name]}")
    installed = ", ".join(sorted(found)) or "none"
    raise ConfigurationError(
        f"uws.{kind} = {name}: no such {kind}; installed: {installed} "
        f"(is the distribution uws-{name} installed?)"
    )
