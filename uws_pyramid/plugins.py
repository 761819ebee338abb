"""Plugin discovery: the hookimpl marker, the plugin manager and backend selection by name."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pluggy

from . import hookspecs
from .errors import ConfigurationError

if TYPE_CHECKING:
    from .hookspecs import UWSHooks

log = logging.getLogger(__name__)

GROUP = "uws_pyramid"
hookimpl = pluggy.HookimplMarker(GROUP)

T = TypeVar("T")


@dataclass(frozen=True)
class Installed:
    """One ``uws_pyramid`` entry point: its distribution, and why it failed to load if it did."""

    name: str
    target: str
    distribution: str
    version: str
    error: str = ""


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, loading entry points on demand and remembering those that failed."""

    def __init__(self) -> None:
        super().__init__(GROUP)
        self.add_hookspecs(hookspecs)
        self.broken: dict[str, str] = {}  # entry point name -> why it failed to load
        self._seen: set[str] = set()

    @property
    def uws(self) -> UWSHooks:
        """The hooks, typed (``pm.hook`` is untyped)."""
        return cast("UWSHooks", self.hook)

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register ``plugin``, refusing hook wrappers: the core calls implementations one by
        one (so that one plugin's exception cannot stop the others), so a wrapper would
        silently never run."""
        registered = super().register(plugin, name)
        wrappers = sorted(
            impl.function.__name__
            for caller in self.get_hookcallers(plugin) or ()
            for impl in caller.get_hookimpls()
            if impl.plugin is plugin and (impl.hookwrapper or impl.wrapper)
        )
        if wrappers:
            self.unregister(plugin)
            raise ConfigurationError(
                f"plugin {name or plugin!r}: hook wrappers are not supported "
                f"({', '.join(wrappers)}): implement the hook itself"
            )
        return registered

    def load_entry_points(self, only: Collection[str] | None = None) -> bool:
        """Load the installed entry points (only those named in ``only`` if given) not loaded
        yet; True if any was new. One that fails is logged, kept in ``broken`` and left out,
        so that one broken package does not take the others down."""
        new = False
        for ep in entry_points(group=GROUP):
            if ep.name in self._seen or (only is not None and ep.name not in only):
                continue
            self._seen.add(ep.name)
            new = True
            if self.has_plugin(ep.name):
                continue
            try:
                self.register(ep.load(), name=ep.name)
            except Exception as exc:  # any import-time fault of a third-party package
                log.error("uws plugin %r (%s) failed to load: %s", ep.name, ep.value, exc)
                self.broken[ep.name] = f"{type(exc).__name__}: {exc}"
        return new


def make_plugin_manager(
    extra: Iterable[object] = (), only: Collection[str] | None = None
) -> PluginManager:
    """A plugin manager with the installed ``uws_pyramid`` entry points, plus ``extra``.

    With ``only``, just the entry points of those names are loaded (the ini's storage and
    manager: command-line tools then skip importing every other plugin); ``select`` loads the
    rest if a name is not found among them."""
    pm = PluginManager()
    pm.load_entry_points(only)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return pm


def installed() -> list[Installed]:
    """Every installed ``uws_pyramid`` entry point, each loaded to tell whether it works."""
    pm = PluginManager()
    pm.load_entry_points()
    return [_describe(ep, pm.broken.get(ep.name, "")) for ep in entry_points(group=GROUP)]


def _describe(ep: EntryPoint, error: str) -> Installed:
    dist = ep.dist
    return Installed(
        ep.name, ep.value, dist.name if dist else "?", dist.version if dist else "?", error
    )


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


def select(pm: pluggy.PluginManager, kind: str, name: str) -> type[Any]:
    """The storage or manager class called ``name``, or a ConfigurationError that helps."""

    def classes() -> dict[str, type[Any]]:
        hook = pm.hook.uws_storage_classes if kind == "storage" else pm.hook.uws_manager_classes
        return classes_by_name(hook(), kind)

    found = classes()
    if name not in found and isinstance(pm, PluginManager) and pm.load_entry_points():
        found = classes()  # provided by a plugin of another name
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
