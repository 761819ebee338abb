"""The job types of a directory: descriptions (<name>.wadl, <name>_vot.xml, ...) and their
scripts/<name>.sh."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigurationError, NotFound
from .formats import DescriptionFormat, JDLError, builtin_formats
from .model import JOB_NAME, JobDescription

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Catalog:
    """One consistent load of the directory; replaced whole, never changed in place."""

    descriptions: dict[str, JobDescription] = field(default_factory=dict)
    #: Each valid type's file as it was loaded, and its format.
    documents: dict[str, tuple[DescriptionFormat, bytes]] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    stamp: tuple[tuple[str, int, int, int], ...] = ()


class JobDescriptions:
    """The valid and broken job types found in ``directory``; reads never block on a reload."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        refresh: float = 0,
        formats: list[DescriptionFormat] | None = None,
    ) -> None:
        """``refresh``: seconds between looks at the directory for changed, added and removed
        files (0: only at start-up and on save); ``formats``: the description formats read
        (the built-in ones by default)."""
        self.directory = Path(directory)
        self.formats = formats if formats is not None else builtin_formats()
        if not self.directory.is_dir():
            raise ConfigurationError(f"{self.directory}: job description directory not found")
        self._lock = threading.Lock()
        self._catalog = _Catalog()
        self._refresh = refresh
        self._next_look = 0.0
        self.reload()

    @property
    def broken(self) -> dict[str, str]:
        """Job type name -> why its description cannot be used."""
        return dict(self._catalog.broken)

    def names(self) -> list[str]:
        self._look()
        return sorted(self._catalog.descriptions)

    def get(self, name: str) -> JobDescription:
        self._look()
        catalog = self._catalog
        if name in catalog.descriptions:
            return catalog.descriptions[name]
        if name in catalog.broken:
            raise NotFound(f"job type '{name}' is unavailable: {catalog.broken[name]}")
        raise NotFound(f"unknown job type '{name}'")

    def script_path(self, name: str) -> Path:
        self.get(name)
        return self._script(name)

    def document(
        self, name: str, format_name: str | None = None
    ) -> tuple[DescriptionFormat, bytes]:
        """The description file as it was loaded (comments and layout kept), or the
        description written in the format called ``format_name``; NotFound for an unknown
        format."""
        jd = self.get(name)
        loaded, data = self._catalog.documents[name]
        if format_name is None or format_name == loaded.name:
            return loaded, data
        wanted = self.format(format_name)
        return wanted, wanted.write(jd)

    def format(self, format_name: str) -> DescriptionFormat:
        for found in self.formats:
            if found.name == format_name:
                return found
        names = ", ".join(f.name for f in self.formats)
        raise NotFound(f"unknown job description format {format_name!r} (formats: {names})")

    def format_of(self, name: str) -> DescriptionFormat:
        """The format a job type's file is in (WADL for a new type)."""
        documents = self._catalog.documents
        return documents[name][0] if name in documents else self.formats[0]

    def reload(self) -> None:
        # The lock keeps two reloads from installing their results in the wrong order;
        # readers take self._catalog in one step and never wait.
        with self._lock:
            self._catalog = self._load()

    def _look(self) -> None:
        """Reload when a file changed, at most once per ``refresh`` seconds. Each server
        process looks for itself, on the requests that need a description: no thread, and
        an idle process costs nothing."""
        if not self._refresh or time.monotonic() < self._next_look:
            return
        if not self._lock.acquire(blocking=False):
            return  # another request is looking: use the catalog we have
        try:
            self._next_look = time.monotonic() + self._refresh
            if self._stamp() != self._catalog.stamp:
                log.info("job descriptions changed in %s: reloading", self.directory)
                self._catalog = self._load()
        finally:
            self._lock.release()

    def _stamp(self) -> tuple[tuple[str, int, int, int], ...]:
        """What identifies this version of the directory's descriptions and scripts."""
        found = []
        described = [p for p in self.directory.iterdir() if self._match(p.name)]
        for path in (*described, *self.directory.glob("scripts/*.sh")):
            try:
                stat = path.stat()
            except OSError:
                continue  # removed while we looked: the next look sees it gone
            found.append((str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino))
        return tuple(sorted(found))

    def save(self, jd: JobDescription, script: str | None) -> None:
        """Write ``jd`` (and ``script``) in the format its type's file has (WADL for a new
        type), after keeping the previous versions in .history/."""
        kind = self.format_of(jd.name)
        filename = f"{jd.name}{kind.suffix}"
        data = kind.write(jd)
        if kind.read(data, filename) != jd:
            raise JDLError(filename, "the description does not survive a write and read")
        path, script_path = self.directory / filename, self._script(jd.name)
        if script is None and not script_path.is_file():
            raise JDLError(str(script_path), "no script for this job type: give one")
        with self._lock:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
            history = self.directory / ".history"
            history.mkdir(exist_ok=True)
            if path.exists():
                shutil.copy2(path, history / f"{jd.name}.{stamp}{kind.suffix}")
            if script is not None and script_path.exists():
                shutil.copy2(script_path, history / f"{jd.name}.{stamp}.sh")
            if script is not None:
                script_path.parent.mkdir(exist_ok=True)
                # Browsers send text areas with CRLF line ends, which bash does not accept.
                _replace(script_path, script.replace("\r\n", "\n").encode(), 0o755)
            _replace(path, data, 0o644)
            log.info("saved job description %s (previous version kept as %s)", jd.name, stamp)
            self._catalog = self._load()

    def _script(self, name: str) -> Path:
        return self.directory / "scripts" / f"{name}.sh"

    def _match(self, filename: str) -> tuple[str, DescriptionFormat] | None:
        for kind in self.formats:
            name = kind.job_name(filename)
            if name is not None:
                return name, kind
        return None

    def _load(self) -> _Catalog:
        catalog = _Catalog(stamp=self._stamp())
        seen: dict[str, str] = {}
        for path in sorted(self.directory.iterdir()):
            found = self._match(path.name)
            if found is None or not path.is_file():
                continue
            name, kind = found
            if name in seen:
                # Two files for one type: neither is taken, rather than one by chance.
                reason = f"{seen[name]} and {path.name} both describe job type {name}"
                log.error("job type %s is unusable: %s", name, reason)
                catalog.descriptions.pop(name, None)
                catalog.documents.pop(name, None)
                catalog.broken[name] = reason
                continue
            seen[name] = path.name
            try:
                data = path.read_bytes()
                catalog.descriptions[name] = self._check(name, path, data, kind)
                catalog.documents[name] = (kind, data)
            except (OSError, JDLError) as exc:
                reason = exc.reason if isinstance(exc, JDLError) else str(exc)
                log.error("job type %s is unusable: %s: %s", name, path, reason)
                # Clients see the file's name, not the server's paths.
                catalog.broken[name] = f"{path.name}: {reason}"

        log.info(
            "loaded %d job types from %s (%d broken)",
            len(catalog.descriptions),
            self.directory,
            len(catalog.broken),
        )
        return catalog

    def _check(self, name: str, path: Path, data: bytes, kind: DescriptionFormat) -> JobDescription:
        if not JOB_NAME.match(name):
            raise JDLError(str(path), f"{name!r} is not a valid job type name")
        jd = kind.read(data, str(path))
        if jd.name != name:
            raise JDLError(str(path), f"job name {jd.name!r} does not match the file name {name!r}")
        if not self._script(name).is_file():
            raise JDLError(str(path), f"script not found: {self._script(name)}")
        return jd


def _replace(path: Path, data: bytes, mode: int) -> None:
    """Write ``path`` atomically, so that a concurrent load never sees half a file."""
    # The temporary name starts with a dot (and ends in .tmp): never loaded.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
