"""uws: run and follow jobs of any UWS 1.1 service from a terminal (the standard library's
HTTP and XML only; JSON and progress are used when the service offers them)."""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import netrc
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"
XLINK = "{http://www.w3.org/1999/xlink}href"
FINAL = ("COMPLETED", "ERROR", "ABORTED", "ARCHIVED")
#: Exit status by final phase (3: the client could not do what was asked).
STATUS = {"COMPLETED": 0, "ERROR": 1, "ABORTED": 2, "ARCHIVED": 2}
FAILED = 3
TOKEN_VARIABLE = "UWS_TOKEN"


class Failure(Exception):
    """What the service or the user did wrong, in one line."""


@dataclass
class Job:
    """What UWS 1.1 says of a job (jobInfo and progress only if the service gives them)."""

    url: str
    job_id: str
    phase: str
    run_id: str | None = None
    owner: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    results: dict[str, str] = field(default_factory=dict)  # id -> URL
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def progress(self) -> float | None:
        value = self.info.get("progress")
        try:
            return None if value is None else float(value)
        except ValueError:
            return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "jobId": self.job_id,
            "phase": self.phase,
            "runId": self.run_id,
            "ownerId": self.owner,
            "parameters": self.parameters,
            "results": self.results,
            "error": self.error,
            "jobInfo": self.info or None,
        }


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 303 is read, not followed: its Location names the job


class Client:
    """HTTP to one service, with credentials from the environment, netrc or a prompt."""

    def __init__(self, url: str, extensions: bool = True, prompt: bool = False) -> None:
        self.extensions = extensions
        self.authorization = credentials(url, prompt)
        self.opener = urllib.request.build_opener(NoRedirect)

    def request(
        self,
        method: str,
        url: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        if self.authorization:
            request.add_header("Authorization", self.authorization)
        try:
            with self.opener.open(request, timeout=660) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            if exc.code in (301, 302, 303, 307):
                return exc.code, dict(exc.headers), b""
            body = exc.read().decode("utf-8", "replace").strip()
            raise Failure(f"{method} {url}: {exc.code} {exc.reason}: {body[:500]}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise Failure(f"{method} {url}: {getattr(exc, 'reason', exc)}") from None

    def post(self, url: str, fields: dict[str, str], files: dict[str, Path] | None = None) -> str:
        """POST a form; the Location it redirects to."""
        if files:
            data, content_type = multipart(fields, files)
        else:
            data = urllib.parse.urlencode(fields).encode()
            content_type = "application/x-www-form-urlencoded"
        status, headers, _ = self.request("POST", url, data, {"Content-Type": content_type})
        location = headers.get("Location")
        if status not in (302, 303) or not location:
            raise Failure(f"POST {url}: expected a redirection, got {status}")
        return urllib.parse.urljoin(url, location)

    def job(self, url: str, wait: int | None = None) -> Job:
        query = f"?WAIT={wait}" if wait is not None else ""
        accept = (
            "application/json, application/xml;q=0.9" if self.extensions else ("application/xml")
        )
        _, headers, body = self.request("GET", url + query, headers={"Accept": accept})
        if self.extensions and headers.get("Content-Type", "").startswith("application/json"):
            return job_from_json(url, json.loads(body))
        return job_from_xml(url, body)

    def jobs(self, url: str, phases: Sequence[str], last: int | None) -> list[dict[str, str]]:
        query = [("PHASE", p) for p in phases] + ([("LAST", str(last))] if last else [])
        full = url + ("?" + urllib.parse.urlencode(query) if query else "")
        _, _, body = self.request("GET", full, headers={"Accept": "application/xml"})
        root = ET.fromstring(body)
        return [
            {
                "id": ref.get("id", ""),
                "phase": text(ref, "phase") or "",
                "runId": text(ref, "runId") or "",
                "url": urllib.parse.urljoin(
                    url.rstrip("/") + "/", ref.get(XLINK) or ref.get("id", "")
                ),
            }
            for ref in root.iter(f"{UWS}jobref")
        ]


def credentials(url: str, prompt: bool) -> str | None:
    """An Authorization header: a token from $UWS_TOKEN, the host's netrc entry, or a prompt."""
    token = os.environ.get(TOKEN_VARIABLE)
    if token:
        return f"Bearer {token}"
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        found = netrc.netrc(os.environ.get("NETRC")).authenticators(host)
    except (FileNotFoundError, netrc.NetrcParseError):
        found = None
    if found and found[2]:
        user, password = found[0] or "", found[2]
    elif prompt:
        user = input(f"user name for {host}: ")
        password = getpass.getpass(f"password of {user}: ")
    else:
        return None
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def multipart(fields: dict[str, str], files: dict[str, Path]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, path in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        parts.append(head.encode() + path.read_bytes() + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


def text(node: ET.Element, name: str) -> str | None:
    found = node.find(f"{UWS}{name}")
    return (
        None
        if found is None or found.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
        else (found.text or "")
    )


def job_from_xml(url: str, body: bytes) -> Job:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise Failure(f"{url}: not a UWS job document: {exc}") from None
    if root.tag != f"{UWS}job":
        raise Failure(f"{url}: not a UWS job document (root {root.tag})")
    info = root.find(f"{UWS}jobInfo")
    error = root.find(f"{UWS}errorSummary")
    return Job(
        url=url,
        job_id=text(root, "jobId") or "",
        phase=text(root, "phase") or "UNKNOWN",
        run_id=text(root, "runId"),
        owner=text(root, "ownerId"),
        parameters={p.get("id", ""): p.text or "" for p in root.iter(f"{UWS}parameter")},
        results={
            r.get("id", ""): urllib.parse.urljoin(url, r.get(XLINK, ""))
            for r in root.iter(f"{UWS}result")
        },
        error=None if error is None else text(error, "message"),
        info={} if info is None else {child.tag.split("}")[-1]: child.text for child in info},
    )


def job_from_json(url: str, data: dict[str, Any]) -> Job:
    error = data.get("errorSummary") or {}
    return Job(
        url=url,
        job_id=data.get("jobId", ""),
        phase=data.get("phase", "UNKNOWN"),
        run_id=data.get("runId"),
        owner=data.get("ownerId"),
        parameters=dict(data.get("parameters") or {}),
        results={r["id"]: urllib.parse.urljoin(url, r["href"]) for r in data.get("results", [])},
        error=error.get("message"),
        info=dict(data.get("jobInfo") or {}),
    )


def follow(client: Client, job: Job, quiet: bool) -> Job:
    """Wait (UWS blocking GETs) until the job ends, showing its phase and progress."""
    bar = Progress(job, quiet)
    try:
        while job.phase not in FINAL:
            started = time.monotonic()
            job = client.job(job.url, wait=30)
            bar.update(job)
            if job.phase not in FINAL and time.monotonic() - started < 1:
                time.sleep(1)  # the service answered at once (WAIT not honoured): poll
    finally:
        bar.close()
    return job


class Progress:
    """A live line: rich's progress bar when a terminal shows it, else one line per phase."""

    def __init__(self, job: Job, quiet: bool) -> None:
        self.quiet = quiet
        self.phase: str | None = None
        self.rich: Any = None
        if not quiet and sys.stderr.isatty():
            from rich.progress import Progress as Bar

            self.rich = Bar(transient=True)
            self.rich.start()
            self.task = self.rich.add_task(job.job_id, total=1.0)
        self.update(job)

    def update(self, job: Job) -> None:
        if self.rich is not None:
            self.rich.update(
                self.task,
                description=f"{job.job_id} {job.phase}",
                completed=1.0 if job.phase == "COMPLETED" else (job.progress or 0),
            )
        elif not self.quiet and job.phase != self.phase:
            progress = f" ({job.progress:.0%})" if job.progress is not None else ""
            print(f"{job.job_id}: {job.phase}{progress}", file=sys.stderr)
        self.phase = job.phase

    def close(self) -> None:
        if self.rich is not None:
            self.rich.stop()


def download(client: Client, job: Job, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    saved = []
    for result_id, url in job.results.items():
        _, _, body = client.request("GET", url)
        # The id names the file, never a path of the service's choosing.
        path = directory / (result_id.replace("/", "_").lstrip(".") or "result")
        path.write_bytes(body)
        saved.append(path)
    return saved


def report(job: Job, as_json: bool) -> None:
    if as_json:
        print(json.dumps(job.as_dict(), indent=1))
        return
    print(f"job {job.job_id}: {job.phase}")
    print(f"  url: {job.url}")
    for name, value in job.parameters.items():
        print(f"  parameter {name} = {value}")
    for result_id, url in job.results.items():
        print(f"  result {result_id}: {url}")
    if job.error:
        print(f"  error: {job.error}")
    if job.progress is not None:
        print(f"  progress: {job.progress:.0%}")


def exit_status(job: Job) -> int:
    return STATUS.get(job.phase, 0)


def cmd_run(client: Client, args: argparse.Namespace) -> int:
    fields = {"PHASE": "RUN"}
    for pair in args.parameters:
        name, sep, value = pair.partition("=")
        if not sep:
            raise Failure(f"{pair!r}: expected name=value")
        fields[name] = value
    files = {}
    for pair in args.file:
        name, sep, path = pair.partition("=")
        if not sep or not Path(path).is_file():
            raise Failure(f"{pair!r}: expected name=path of a readable file")
        files[name] = Path(path)
    job = client.job(client.post(args.url, fields, files))
    if args.wait or args.download:
        job = follow(client, job, args.json)
    if args.download:
        for path in download(client, job, Path(args.download)):
            print(f"saved {path}", file=sys.stderr)
    report(job, args.json)
    return exit_status(job)


def cmd_list(client: Client, args: argparse.Namespace) -> int:
    jobs = client.jobs(args.url, args.phase, args.last)
    if args.json:
        print(json.dumps(jobs, indent=1))
    else:
        for job in jobs:
            print(f"{job['id']:28} {job['phase']:10} {job['runId']}")
    return 0


def cmd_show(client: Client, args: argparse.Namespace) -> int:
    job = client.job(args.url)
    report(job, args.json)
    return exit_status(job)


def cmd_watch(client: Client, args: argparse.Namespace) -> int:
    job = follow(client, client.job(args.url), args.json)
    report(job, args.json)
    return exit_status(job)


def cmd_results(client: Client, args: argparse.Namespace) -> int:
    job = client.job(args.url)
    if args.download:
        for path in download(client, job, Path(args.download)):
            print(f"saved {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(job.results, indent=1))
    else:
        for result_id, url in job.results.items():
            print(f"{result_id}\t{url}")
    return 0


def cmd_abort(client: Client, args: argparse.Namespace) -> int:
    job = client.job(client.post(args.url.rstrip("/") + "/phase", {"PHASE": "ABORT"}))
    report(job, args.json)
    return exit_status(job)


def cmd_delete(client: Client, args: argparse.Namespace) -> int:
    status, _, _ = client.request("DELETE", args.url)
    if args.json:
        print(json.dumps({"url": args.url, "deleted": True}))
    else:
        print(f"deleted {args.url} ({status})")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="uws",
        description=__doc__.splitlines()[0],
        epilog=(
            f"Credentials: ${TOKEN_VARIABLE} (an API token), else the host's entry in ~/.netrc, "
            "else --login asks. Exit status: 0 COMPLETED (or not waited for), 1 ERROR, 2 ABORTED, "
            "3 the request failed."
        ),
    )
    top.add_argument("--json", action="store_true", help="print JSON, for scripts")
    top.add_argument(
        "--no-extensions",
        action="store_true",
        help="rely on UWS 1.1 alone (no JSON, no jobInfo progress)",
    )
    top.add_argument("--login", action="store_true", help="ask for a user name and password")
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="create a job and start it")
    run.add_argument("url", help="the job list, e.g. https://host/rest/echo")
    run.add_argument("parameters", nargs="*", metavar="NAME=VALUE")
    run.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="upload a file as a parameter",
    )
    run.add_argument("--wait", action="store_true", help="follow the job until it ends")
    run.add_argument("--download", metavar="DIR", help="wait, then save the results in DIR")
    run.set_defaults(run=cmd_run)
    listing = commands.add_parser("list", help="your jobs in a job list")
    listing.add_argument("url")
    listing.add_argument("--phase", action="append", default=[])
    listing.add_argument("--last", type=int)
    listing.set_defaults(run=cmd_list)
    for name, run_it, what in (
        ("show", cmd_show, "the job"),
        ("watch", cmd_watch, "follow the job until it ends"),
        ("abort", cmd_abort, "abort the job"),
        ("delete", cmd_delete, "delete the job"),
    ):
        command = commands.add_parser(name, help=what)
        command.add_argument("url", help="the job's URL")
        command.set_defaults(run=run_it)
    results = commands.add_parser("results", help="the job's results")
    results.add_argument("url")
    results.add_argument("--download", metavar="DIR")
    results.set_defaults(run=cmd_results)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    no_extensions = args.no_extensions or bool(os.environ.get("UWS_NO_EXTENSIONS"))
    try:
        client = Client(args.url, extensions=not no_extensions, prompt=args.login)
        return int(args.run(client, args))
    except Failure as exc:
        print(f"uws: {exc}", file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
