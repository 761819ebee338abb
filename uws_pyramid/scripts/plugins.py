"""uws-admin plugins: the installed plugins, their versions, and why any failed to load."""

from __future__ import annotations

import argparse

from ..plugins import installed
from ..settings import UWSSettings


def plugins(args: argparse.Namespace, settings: UWSSettings | None) -> int:
    """One line per plugin; exit 1 if one failed to load or the ini names one not installed."""
    found = installed()
    used = {settings.storage: "storage", settings.manager: "manager"} if settings else {}
    for plugin in sorted(found, key=lambda p: p.name):
        role = f" (the ini's {used[plugin.name]})" if plugin.name in used else ""
        state = f"FAILED: {plugin.error}" if plugin.error else "ok"
        print(
            f"{plugin.name:<12} {plugin.distribution} {plugin.version}  {plugin.target}"
            f"{role}  {state}"
        )
    if not found:
        print("no uws-pyramid plugin is installed")
    missing = sorted(set(used) - {p.name for p in found})
    for name in missing:
        print(
            f"{name:<12} not installed (the ini's {used[name]}; "
            f"a plugin of another name may provide it: see uws-admin check)"
        )
    return 1 if any(p.error for p in found) or missing else 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = commands.add_parser(
        "plugins", help="list the installed plugins with their versions; exit 1 if one is broken"
    )
    sub.add_argument("ini", nargs="?", help="mark the plugins this deployment uses")
    sub.set_defaults(run=plugins)
