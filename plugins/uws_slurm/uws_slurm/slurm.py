"""The SLURM command layer: sbatch, squeue, scontrol, sacct and scancel, locally or through ssh."""

from __future__ import annotations

import logging
import os
import re
import shlex
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: ``sbatch --parsable`` prints ``<id>`` or ``<id>;<cluster>``.
PARSABLE = re.compile(r"(\d+)(?:;[\w.-]+)?\Z")
#: Job ids given to squeue in one call (its command line stays far below the system's limit).
CHUNK = 500
_SEP = "|"  # never in a state, node list, partition or reason
_KEY_VALUE = re.compile(r"(\S+?)=(\S*)")
#: The server's environment variables that SLURM's commands (and ssh) may see. sbatch hands
#: its environment to the batch job, so the server's own (credentials, ...) must not reach
#: it; and ``--export=NONE`` would cost a login shell on the node (about 1.5 s) per job.
CLIENT_VARIABLES = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "SLURM_CONF", "SSH_AUTH_SOCK")


def client_environment() -> dict[str, str]:
    return {key: os.environ[key] for key in CLIENT_VARIABLES if key in os.environ}


class SlurmError(RuntimeError):
    """A SLURM command failed, or printed what we cannot read."""


class SlurmUnreachable(SlurmError):
    """The command could not reach the controller (or the login node): try again later."""


#: What SLURM's commands print when the controller is down or restarting, as opposed to a
#: refusal (bad partition, over a limit), which they print as "error: <reason>".
UNREACHABLE = re.compile(
    r"Unable to contact slurm controller|Socket timed out|Connection refused|"
    r"Zero Bytes were transmitted|Communication connection failure|"
    r"temporarily unavailable|backup controller in standby|Connection timed out|"
    r"Connection reset|No route to host",
    re.IGNORECASE,
)
#: ssh's own exit status when it cannot reach the login node.
SSH_FAILED = 255


@dataclass(frozen=True)
class SlurmJob:
    """What the controller (or the accounting log) says of one job."""

    job_id: str
    state: str  # base state, upper case: RUNNING, CANCELLED, ... ("CANCELLED by 0" is cut)
    node: str = ""
    partition: str = ""
    reason: str = ""
    exit_code: str = ""  # "exit:signal" where known (scontrol, sacct), else ""


def base_state(text: str) -> str:
    """``CANCELLED by 1000`` -> ``CANCELLED``; ``COMPLETING+`` style suffixes dropped."""
    word = text.strip().split(" ", 1)[0].upper()
    return word.rstrip("+*")


class Slurm:
    """Runs SLURM's commands as argument lists: on this host, or on ``ssh_host`` with every
    argument quoted for the remote shell (ssh joins its arguments into one command line)."""

    def __init__(
        self,
        ssh_host: str = "",
        ssh_command: Sequence[str] = ("ssh", "-o", "BatchMode=yes"),
        bin_dir: str = "",
        timeout: float = 30.0,
    ) -> None:
        self.ssh_host = ssh_host
        self.ssh_command = list(ssh_command)
        self.bin_dir = bin_dir.rstrip("/")
        self.timeout = timeout

    def command(self, program: str, args: Iterable[str]) -> list[str]:
        """The argument list that runs ``program args`` where SLURM is."""
        argv = [f"{self.bin_dir}/{program}" if self.bin_dir else program, *args]
        if not self.ssh_host:
            return argv
        # "--" ends ssh's options: a host name cannot smuggle one in.
        return [*self.ssh_command, "--", self.ssh_host, shlex.join(argv)]

    def run(self, program: str, args: Iterable[str]) -> subprocess.CompletedProcess[str]:
        argv = self.command(program, args)
        try:
            return subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                stdin=subprocess.DEVNULL,
                check=False,
                env=client_environment(),
            )
        except subprocess.TimeoutExpired as exc:
            raise SlurmUnreachable(f"{program}: {exc}") from None
        except OSError as exc:
            raise SlurmError(f"{program}: {exc}") from None

    def failure(self, program: str, done: subprocess.CompletedProcess[str]) -> SlurmError:
        """The error of a command that exited non-zero: SlurmUnreachable when it could not
        reach the controller (or ssh the login node), else SlurmError with its message."""
        message = _message(program, done)
        if UNREACHABLE.search(done.stderr or "") or (
            self.ssh_host and done.returncode == SSH_FAILED
        ):
            return SlurmUnreachable(message)
        return SlurmError(message)

    # -- the commands ------------------------------------------------------------------------

    def sbatch(self, args: Sequence[str], script: str) -> str:
        """Submit ``script`` (a path where sbatch runs) with ``args``; return the job id."""
        done = self.run("sbatch", ["--parsable", *args, script])
        if done.returncode != 0:
            raise self.failure("sbatch", done)
        text = done.stdout.strip()
        match = PARSABLE.match(text.splitlines()[-1].strip() if text else "")
        if match is None:
            raise SlurmError(f"sbatch: unexpected output {text[:200]!r}")
        return match.group(1)

    def squeue(self, job_ids: Iterable[str]) -> dict[str, SlurmJob]:
        """The jobs the controller still knows, finished ones included (``-t all``); ids it
        has forgotten are simply missing. SlurmError if the controller cannot answer."""
        ids = list(dict.fromkeys(job_ids))
        found: dict[str, SlurmJob] = {}
        for start in range(0, len(ids), CHUNK):
            found.update(self._squeue(["-j", ",".join(ids[start : start + CHUNK])]))
        return found

    def find(self, name: str) -> dict[str, SlurmJob]:
        """The jobs called ``name`` that the controller knows."""
        return self._squeue(["-n", name])

    def _squeue(self, selection: list[str]) -> dict[str, SlurmJob]:
        fmt = _SEP.join(("%i", "%T", "%N", "%P", "%r"))
        done = self.run("squeue", ["-h", "-t", "all", "-o", fmt, *selection])
        if done.returncode != 0:
            # Every id of the list unknown: not an error, they are just gone.
            if "Invalid job id" in done.stderr:
                return {}
            raise self.failure("squeue", done)
        found: dict[str, SlurmJob] = {}
        for line in done.stdout.splitlines():
            parts = line.strip().split(_SEP, 4)
            if len(parts) != 5:
                log.warning("squeue: unreadable line %r", line)
                continue
            job_id, state, node, partition, reason = parts
            found[job_id] = SlurmJob(job_id, base_state(state), node, partition, reason)
        return found

    def show_job(self, job_id: str) -> SlurmJob | None:
        """``scontrol show job``: one job with its exit code; None if the controller forgot it."""
        done = self.run("scontrol", ["show", "job", "-o", job_id])
        if done.returncode != 0:
            if "Invalid job id" in done.stderr:
                return None
            raise self.failure("scontrol", done)
        first = done.stdout.strip().splitlines()[0] if done.stdout.strip() else ""
        fields = dict(_KEY_VALUE.findall(first))
        if fields.get("JobId") != job_id or "JobState" not in fields:
            raise SlurmError(f"scontrol: unexpected output {done.stdout[:200]!r}")
        node = fields.get("NodeList", "")
        return SlurmJob(
            job_id,
            base_state(fields["JobState"]),
            "" if node == "(null)" else node,
            fields.get("Partition", ""),
            fields.get("Reason", ""),
            fields.get("ExitCode", ""),
        )

    def sacct(self, job_ids: Iterable[str]) -> dict[str, SlurmJob]:
        """Finished jobs from accounting (``-c``: the job completion log, no slurmdbd needed)."""
        ids = list(dict.fromkeys(job_ids))
        if not ids:
            return {}
        done = self.run(
            "sacct",
            [
                "-c",
                "-n",
                "-P",
                "-o",
                "JobID,State,ExitCode,NodeList,Partition",
                "-j",
                ",".join(ids),
            ],
        )
        if done.returncode != 0:
            raise self.failure("sacct", done)
        found: dict[str, SlurmJob] = {}
        for line in done.stdout.splitlines():
            parts = line.strip().split("|")
            if len(parts) < 4 or parts[0] not in ids:
                continue  # job steps (123.batch) and other clusters' lines
            partition = parts[4] if len(parts) > 4 else ""
            # A requeued job finishes more than once: the last line is the latest end.
            node = "" if parts[3] == "(null)" else parts[3]
            found[parts[0]] = SlurmJob(
                parts[0], base_state(parts[1]), node, partition, exit_code=parts[2]
            )
        return found

    def scancel(self, job_ids: Iterable[str]) -> None:
        ids = list(dict.fromkeys(job_ids))
        if not ids:
            return
        done = self.run("scancel", ids)
        if done.returncode != 0:
            raise self.failure("scancel", done)


def _message(program: str, done: subprocess.CompletedProcess[str]) -> str:
    text = (done.stderr or done.stdout).strip().replace("\n", " ")[:500]
    return f"{program} failed (status {done.returncode}): {text or 'no message'}"
