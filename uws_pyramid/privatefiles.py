"""Folders and files the server creates are readable by its own user alone (700, 600)."""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents with mode 700; existing folders keep theirs
    (an administrator's choice)."""
    missing: list[Path] = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass  # made meanwhile by another process
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 600 if it is absent (before a library such as SQLite
    creates it with the usual 644), in a private folder."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    return path
