"""A job's working directory: where uploads, parameters, outputs and bookkeeping live."""
from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO

from ..errors import NotFound, PayloadTooLarge
from . import wrapper

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Bytes copied at a time from an upload to its file.
_CHUNK = 1 << 20


def safe_name(filename: str, fallback: str = "upload") -> str:
    """A file name that cannot leave its directory: the last path component, reduced to
    letters, digits, dot, dash and underscore, never hidden, never empty, at most 100 chars."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).lstrip(".-")[:100]
    return base or fallback


class JobDir:
    """Layout of ``<root>/<job_id>``: the script's cwd; ``.uws/`` keeps the contract's files."""

    def __init__(self, root: Path, job_id: str) -> None:
        self.path = root / job_id
        self.meta = self.path / ".uws"

    @property
    def stdout(self) -> Path:
        return self.meta / wrapper.STDOUT_FILE

    @property
    def stderr(self) -> Path:
        return self.meta / wrapper.STDERR_FILE

    # The execution contract's files; ``wrapper`` defines the names and who writes each one.

    @property
    def job_file(self) -> Path:
        return self.meta / wrapper.JOB_FILE

    @property
    def wrapper_file(self) -> Path:
        return self.meta / wrapper.WRAPPER_FILE

    @property
    def exit_file(self) -> Path:
        return self.meta / wrapper.EXIT_FILE

    @property
    def parameters_file(self) -> Path:
        return self.path / wrapper.PARAMETERS_FILE

    @property
    def progress_file(self) -> Path:
        return self.path / wrapper.PROGRESS_FILE

    def create(self) -> Path:
        self.meta.mkdir(parents=True, exist_ok=True)
        return self.path

    def store_upload(self, param: str, filename: str, stream: BinaryIO, limit: int) -> str:
        """Save an uploaded file under a sanitised name; return that name (the parameter's value).

        PayloadTooLarge if it has more than ``limit`` bytes. The file is written aside and
        renamed into place only once complete, so a refused or broken upload leaves an
        earlier file of the same name as it was."""
        self.create()
        name = safe_name(filename, fallback=param)
        # In .uws/: the job's script never sees a partial file, and the rename stays on one
        # file system. "x": a fresh file, created with the usual permissions.
        partial = self.meta / f"upload-{secrets.token_hex(8)}"
        try:
            with open(partial, "xb") as out:
                size = 0
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge(
                            f"the file of parameter {param} is larger than the limit of "
                            f"{limit} bytes (uws.limits.upload)"
                        )
                    out.write(chunk)
            os.replace(partial, self.path / name)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return name

    def resolve(self, relative: str) -> Path:
        """The file at ``relative`` inside the directory; NotFound for anything outside it."""
        root = self.path.resolve()
        target = (root / relative).resolve()
        if root != target and root not in target.parents:
            raise NotFound("no such result")
        return target

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
