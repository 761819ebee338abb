"""uws-admin check: every problem of a deployment at once, each with the fix it needs."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import ConfigurationError
from ..plugins import make_plugin_manager, select
from ..settings import UWSSettings

#: One check: what it looked at, then the problems it found (none: all is well).
Check = Callable[[UWSSettings], Iterator[str]]


def job_descriptions(settings: UWSSettings) -> Iterator[str]:
    from ..jdl.registry import JobDescriptions  # lxml: only for this command

    try:
        found = JobDescriptions(settings.jdl_dir)
    except ConfigurationError as exc:
        yield f"uws.jdl_dir: {exc} (copy the job descriptions and their scripts/ there)"
        return
    for name, reason in sorted(found.broken.items()):
        yield f"job type {name} cannot be used: {reason}"
    if not found.names():
        yield f"uws.jdl_dir: {settings.jdl_dir} holds no usable job description (<type>.wadl, <type>_vot.xml)"


def workdir(settings: UWSSettings) -> Iterator[str]:
    path = settings.workdir
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        yield f"uws.workdir: {path}: no parent folder exists"
    elif not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == path else f" (it would be created in {existing})"
        yield (
            f"uws.workdir: {path} is not writable by this user{where}: "
            f"create it and give it to the service's account"
        )


def secret(settings: UWSSettings) -> Iterator[str]:
    path = settings.secret_file
    if path.exists():
        if not os.access(path, os.R_OK):
            yield f"uws.secret_file: {path} is not readable by this user"
        elif len(path.read_bytes().strip()) < 32:
            yield f"uws.secret_file: {path} holds fewer than 32 characters: remove it to get a new one"
        elif path.stat().st_mode & 0o077:
            yield f"uws.secret_file: {path} is readable by others: chmod 600 {path}"
    elif not os.access(_existing_parent(path), os.W_OK):
        yield (
            f"uws.secret_file: {path} is missing and cannot be created here: create "
            f"{path.parent} for the service's account (every server process shares the file)"
        )


def storage(settings: UWSSettings) -> Iterator[str]:
    try:
        cls = select(make_plugin_manager(only={settings.storage}), "storage", settings.storage)
        cls.from_settings(settings.storage_options, str(settings.here)).close()
    except ConfigurationError as exc:
        yield str(exc)


def manager(settings: UWSSettings) -> Iterator[str]:
    try:
        cls = select(make_plugin_manager(only={settings.manager}), "manager", settings.manager)
        built = cls.from_settings(settings.manager_options, str(settings.here))
    except ConfigurationError as exc:
        yield str(exc)
        return
    yield from built.problems()


CHECKS: tuple[tuple[str, Check], ...] = (
    ("job descriptions", job_descriptions),
    ("work directory", workdir),
    ("server secret", secret),
    ("storage", storage),
    ("manager", manager),
)


def check(args: argparse.Namespace, settings: UWSSettings) -> int:
    failed = 0
    for what, run in CHECKS:
        problems = list(run(settings))
        failed += len(problems)
        print(f"{'ok  ' if not problems else 'FAIL'} {what}")
        for problem in problems:
            print(f"     - {problem}")
    print("all checks passed" if not failed else f"{failed} problem(s) to fix")
    return 1 if failed else 0


def _existing_parent(path: Path) -> Path:
    return next(p for p in path.parents if p.exists())


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = commands.add_parser("check", help="check a deployment: list every problem at once")
    sub.add_argument("ini")
    sub.set_defaults(run=check)
