"""A job's working directory: where uploads, parameters, outputs and bookkeeping live."""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO

from ..errors import InsufficientStorage, PayloadTooLarge
from ..privatefiles import private_dir
from . import wrapper

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Bytes copied at a time from an upload to its file.
_CHUNK = 1 << 20
#: Uploads live in ``uploads/<parameter>/<file name>``: one folder per parameter, so that two
#: uploads never share a name, nor an upload the name of a file of the execution contract.
UPLOADS = "uploads"
#: errno values that mean "the disk (or the user's quota) is full".
_FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _FULL


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
        """Make the directory, private to the server's user (mode 700, like its parent)."""
        private_dir(self.path.parent)
        self.path.mkdir(mode=0o700, exist_ok=True)
        self.meta.mkdir(mode=0o700, exist_ok=True)
        return self.path

    @staticmethod
    def upload_path(param: str, filename: str) -> str:
        """Where the upload of ``param`` lands, relative to the directory: the parameter's value.
        The file keeps a sanitised form of its name, which the job and users see."""
        return f"{UPLOADS}/{param}/{safe_name(filename, fallback=param)}"

    def store_upload(self, param: str, filename: str, stream: BinaryIO, limit: int) -> str:
        """Save an uploaded file as ``upload_path`` says; return that path (the parameter's value).

        PayloadTooLarge if it has more than ``limit`` bytes, InsufficientStorage if the disk
        is full. The file is written aside and renamed into place only once complete, so a
        refused or broken upload leaves nothing, and an earlier file of the parameter as it was."""
        value = self.upload_path(param, filename)
        try:
            self.create()
            # In .uws/: the job's script never sees a partial file, and the rename stays on
            # one file system. "x": a fresh file; 600: for the server's user alone.
            partial = self.meta / f"upload-{secrets.token_hex(8)}"
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            if disk_full(exc):
                raise self._no_space(param) from exc
            raise
        try:
            with open(fd, "wb") as out:
                size = 0
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge(
                            f"the file of parameter {param} is larger than the limit of "
                            f"{limit} bytes (uws.limits.upload)"
                        )
                    out.write(chunk)
            folder = self.path / UPLOADS / param
            (self.path / UPLOADS).mkdir(mode=0o700, exist_ok=True)
            if folder.is_dir() and not folder.is_symlink():
                for earlier in folder.iterdir():  # a new file for the parameter replaces it
                    earlier.unlink()
            else:
                folder.mkdir(mode=0o700)
            os.replace(partial, self.path / value)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            if disk_full(exc):
                raise self._no_space(param) from exc
            raise
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return value

    @staticmethod
    def _no_space(param: str) -> InsufficientStorage:
        return InsufficientStorage(
            f"no space left on the server's disk for the file of parameter {param}; "
            f"try again later or send a smaller file"
        )

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
