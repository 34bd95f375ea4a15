"""Atomic file writes: readers see the old file or the whole new one, never a part, even after a crash.

Every writer of codecbench (run records and tables, reports, dataset caches, the leaderboard)
goes through these: the data goes to a temporary file beside the target, is flushed to disk
(fsync), renamed over the target, and the folder's entry is flushed too.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def fsync_dir(folder: Path | str) -> None:
    """Flush a folder's entries (a rename inside it) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path | str) -> None:
    """Flush a file's content to disk."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def temp_beside(path: Path) -> Path:
    """A fresh hidden name in ``path``'s folder for writing ``path``'s next content."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


@contextmanager
def atomic_path(path: Path | str, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s content to (by any means: numpy, PIL, ffmpeg);
    on success it is fsynced and renamed over ``path``, on an exception it is removed.

    ``mode`` sets the file's permissions; by default they follow the umask, like ``open``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    try:
        yield tmp
        fsync_file(tmp)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path | str, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path, mode) as tmp, open(tmp, "xb") as f:
        f.write(data)


def atomic_write_text(path: Path | str, text: str, mode: int | None = None) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    atomic_write_bytes(path, text.encode("utf-8"), mode)
