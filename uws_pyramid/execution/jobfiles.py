"""Reading a job's files: the one way in, since anything in a job's directory may be a trap.

A job is untrusted code: it may leave a symbolic link (to the server's secret), a hard link,
a FIFO (whose open blocks), a device or a huge file where the server expects its stderr, its
progress, its exit record or a result. Every file the server reads from a job's directory goes
through here: each directory on the way is opened without following links, the file is opened
with ``O_NOFOLLOW | O_NONBLOCK`` and must be a regular file with one link; reads are capped.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from functools import partial
from pathlib import Path, PurePath, PurePosixPath
from typing import BinaryIO

log = logging.getLogger(__name__)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class Refused(Exception):
    """A file of a job's directory that the server will not read; the message says why."""


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _check(relative: str, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise Refused(f"{relative} is {_kind(st.st_mode)}, not a regular file")
    if st.st_nlink != 1:
        raise Refused(f"{relative} has {st.st_nlink} hard links (a job's file has one)")


def _parts(relative: str | PurePath) -> tuple[str, ...]:
    parts = PurePosixPath(relative).parts
    if not parts or parts[0] == "/" or any(part in ("..", ".") for part in parts):
        raise Refused(f"{relative} is not a path inside the job's directory")
    return parts


def _parent(root: Path, relative: str, parts: tuple[str, ...]) -> int:
    """A descriptor of the directory holding ``parts[-1]``, reached without following links."""
    try:
        fd = os.open(root, _DIR_FLAGS)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise Refused(f"the job's directory cannot be opened: {exc.strerror}") from None
    try:
        for part in parts[:-1]:
            st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                raise Refused(f"{relative}: {part} is {_kind(st.st_mode)}, not a directory")
            inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def stat_file(root: Path, relative: str | PurePath) -> os.stat_result:
    """The status of a job's file, checked as ``open_file`` would (without opening it).

    FileNotFoundError if it is absent, Refused if it is not a plain file of the job's own."""
    rel = str(relative)
    parts = _parts(rel)
    fd = _parent(root, rel, parts)
    try:
        st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
    finally:
        os.close(fd)
    _check(rel, st)
    return st


def open_file(root: Path, relative: str | PurePath) -> tuple[BinaryIO, os.stat_result]:
    """Open a job's file for reading; FileNotFoundError if absent, Refused if it is a link, a
    FIFO, a device, a directory, a file with several links, or below such a thing."""
    rel = str(relative)
    parts = _parts(rel)
    fd = _parent(root, rel, parts)
    try:
        # Checked before the open too: a device or a FIFO is never opened at all.
        _check(rel, os.stat(parts[-1], dir_fd=fd, follow_symlinks=False))
        try:
            file_fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise Refused(f"{rel} cannot be opened: {exc.strerror}") from None
    finally:
        os.close(fd)
    try:
        st = os.fstat(file_fd)
        _check(rel, st)  # what was opened, if the job swapped the file in between
    except BaseException:
        os.close(file_fd)
        raise
    return os.fdopen(file_fd, "rb"), st


def read_file(
    root: Path, relative: str | PurePath, limit: int, tail: bool = False
) -> tuple[bytes, int]:
    """At most ``limit`` bytes of a job's file (its start, or its end with ``tail``) and the
    file's whole size. Errors as ``open_file``."""
    stream, st = open_file(root, relative)
    with stream:
        if tail and st.st_size > limit:
            stream.seek(st.st_size - limit)
        return stream.read(limit), st.st_size


def size_and_digest(root: Path, relative: str | PurePath) -> tuple[int, str]:
    """The size and hex SHA-256 of a job's file, read in chunks. Errors as ``open_file``."""
    stream, st = open_file(root, relative)
    digest = hashlib.sha256()
    with stream:
        for chunk in iter(partial(stream.read, 1 << 20), b""):
            digest.update(chunk)
    return st.st_size, digest.hexdigest()


def read_or_none(root: Path, relative: str | PurePath, limit: int) -> bytes | None:
    """A small file of the execution contract, or None if it is absent, unsafe or too big
    (refusals are logged: a job planted something)."""
    try:
        data, size = read_file(root, relative, limit + 1)
    except FileNotFoundError:
        return None
    except Refused as exc:
        log.warning("job directory %s: %s; left unread", root, exc)
        return None
    except OSError as exc:
        log.warning("job directory %s: %s cannot be read: %s", root, relative, exc)
        return None
    if size > limit:
        log.warning(
            "job directory %s: %s has %d bytes, more than the %d expected; left unread",
            root,
            relative,
            size,
            limit,
        )
        return None
    return data
