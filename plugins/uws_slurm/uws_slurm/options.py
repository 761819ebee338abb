"""Settings of the SLURM manager, and the resources (partition, account, memory, CPUs) of a job."""

from __future__ import annotations

import math
import re
import shlex
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from uws_pyramid.api import DEFAULT_PATH, ConfigurationError, JobDescription

_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}"
#: Each resource: its sbatch option and the form of a valid value. Values reach sbatch as one
#: ``--option=value`` argument, so they cannot become other options; the forms keep them sane.
RESOURCES: dict[str, tuple[str, re.Pattern[str], str]] = {
    "partition": (
        "--partition",
        re.compile(rf"{_NAME}(,{_NAME})*\Z"),
        "a partition name (or a comma-separated list)",
    ),
    "account": ("--account", re.compile(rf"{_NAME}\Z"), "an account name"),
    "mem": ("--mem", re.compile(r"[0-9]{1,9}[KMGTkmgt]?\Z"), "a memory size such as 500M or 4G"),
    "cpus": ("--cpus-per-task", re.compile(r"[1-9][0-9]{0,4}\Z"), "a whole number of CPUs >= 1"),
}


def check_resource(key: str, value: str, where: str) -> str:
    """``value`` if it is a valid ``key``; ValueError naming ``where`` it came from."""
    _, form, expected = RESOURCES[key]
    if not form.match(value):
        raise ValueError(f"{where}: {value!r} is not {expected}")
    return value


@dataclass(frozen=True)
class SlurmOptions:
    """The ``uws.manager.*`` options of the SLURM manager (README, 'Settings')."""

    partition: str = ""
    account: str = ""
    mem: str = ""
    cpus: str = ""
    sbatch_options: tuple[str, ...] = ()
    ssh_host: str = ""
    ssh_command: tuple[str, ...] = ("ssh", "-o", "BatchMode=yes")
    bin_dir: str = ""
    remote_workdir: str = ""
    python: str = sys.executable
    path: str = DEFAULT_PATH
    poll_interval: float = 2.0
    command_timeout: float = 30.0
    callbacks: bool = True
    #: Seconds a job stays QUEUED while sbatch cannot reach the controller, before ERROR.
    submit_retry: float = 300.0

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> SlurmOptions:
        known = set(cls.__dataclass_fields__)
        for key in options:
            if key not in known:
                raise ConfigurationError(
                    f"uws.manager.{key}: unknown option of the SLURM manager "
                    f"(known: {', '.join(sorted(known))})"
                )

        def get(key: str, parse: Callable[[str], Any], expected: str) -> Any:
            raw = str(options.get(key, "")).strip()
            if not raw:
                return getattr(cls, key)
            try:
                return parse(raw)
            except ValueError:
                raise ConfigurationError(f"uws.manager.{key} = {raw!r}: {expected}") from None

        def resource(key: str) -> Callable[[str], str]:
            return lambda raw: check_resource(key, raw, key)

        def seconds(minimum: float) -> Callable[[str], float]:
            def parse(raw: str) -> float:
                value = float(raw)
                if not (math.isfinite(value) and value >= minimum):
                    raise ValueError(raw)
                return value

            return parse

        def words(raw: str) -> tuple[str, ...]:
            return tuple(shlex.split(raw))

        def boolean(raw: str) -> bool:
            low = raw.lower()
            if low not in {"true", "false", "yes", "no", "on", "off", "1", "0"}:
                raise ValueError(raw)
            return low in {"true", "yes", "on", "1"}

        def host(raw: str) -> str:
            if raw.startswith("-") or any(c.isspace() for c in raw):
                raise ValueError(raw)
            return raw

        return cls(
            partition=get("partition", resource("partition"), RESOURCES["partition"][2]),
            account=get("account", resource("account"), RESOURCES["account"][2]),
            mem=get("mem", resource("mem"), RESOURCES["mem"][2]),
            cpus=get("cpus", resource("cpus"), RESOURCES["cpus"][2]),
            sbatch_options=get("sbatch_options", words, "sbatch options, shell-quoted"),
            ssh_host=get("ssh_host", host, "a host name ([user@]host), no spaces"),
            ssh_command=get("ssh_command", words, "a command, shell-quoted"),
            bin_dir=get("bin_dir", str, "a directory"),
            remote_workdir=get("remote_workdir", str, "a directory"),
            python=get("python", str, "a Python 3 interpreter on the nodes"),
            path=get("path", str, "a PATH"),
            poll_interval=get("poll_interval", seconds(0.05), "seconds (a number >= 0.05)"),
            command_timeout=get("command_timeout", seconds(1), "seconds (a number >= 1)"),
            callbacks=get("callbacks", boolean, "a boolean"),
            submit_retry=get("submit_retry", seconds(0), "seconds (a number >= 0)"),
        )


def _choices(text: str) -> set[str]:
    return {word for word in re.split(r"[\s,]+", text) if word}


def job_resources(
    jd: JobDescription, parameters: Mapping[str, str], defaults: SlurmOptions
) -> dict[str, str]:
    """The resources of one job: the settings, overridden by the job description's options
    (``partition = long``), overridden by the user where the description names a parameter
    for it (``partition.param = queue``), within ``partition.choices`` when given.
    ValueError, naming the culprit, for anything invalid."""
    chosen: dict[str, str] = {}
    for key in RESOURCES:
        value = str(jd.options.get(key) or getattr(defaults, key))
        where = f"job description {jd.name}, option {key}" if jd.options.get(key) else key
        param_name = jd.options.get(f"{key}.param")
        if param_name:
            spec = jd.parameter(param_name)
            if spec is None:
                raise ValueError(
                    f"job description {jd.name}: option {key}.param names "
                    f"no parameter ({param_name!r})"
                )
            user = parameters.get(spec.name, "").strip()
            if user:
                value, where = user, f"parameter {spec.name}"
                choices = _choices(jd.options.get(f"{key}.choices", ""))
                if choices and value not in choices:
                    raise ValueError(
                        f"parameter {spec.name}: {value!r} is not one of "
                        f"{', '.join(sorted(choices))}"
                    )
        if value:
            chosen[key] = check_resource(key, value, where)
    return chosen


def time_limit(seconds: int) -> str | None:
    """``--time`` in whole minutes, rounded up; None for no limit (the partition's own)."""
    if seconds <= 0:
        return None
    return str(math.ceil(seconds / 60))


def resource_args(resources: Mapping[str, str]) -> list[str]:
    return [f"{RESOURCES[key][0]}={value}" for key, value in resources.items()]
