"""Extracting the raw files a dataset needs from its zip, tar or 7z archives."""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from codecbench.atomic import atomic_path
from codecbench.datasets.download import CHUNK, file_digests
from codecbench.errors import CodecbenchError

_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


def archive_kind(path: Path | str) -> str | None:
    """``"zip"``, ``"tar"`` or ``"7z"`` from the file name, or None when it is not an archive we read."""
    name = str(path).lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(".7z"):
        return "7z"
    if name.endswith(_TAR_SUFFIXES):
        return "tar"
    return None


def _copy(src: BinaryIO, target: Path) -> str:
    """Stream ``src`` into ``target`` atomically (via a temporary name); returns the SHA-256 written."""
    sha = hashlib.sha256()
    with atomic_path(target) as tmp, open(tmp, "xb") as out:
        while chunk := src.read(CHUNK):
            sha.update(chunk)
            out.write(chunk)
    return sha.hexdigest()


def _extract_zip(archive: Path, dest: Path, wanted: set[str]) -> dict[str, str]:
    out = {}
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            base = Path(info.filename).name
            if not info.is_dir() and base in wanted and base not in out:
                with zf.open(info) as src:
                    out[base] = _copy(src, dest / base)
    return out


def _extract_tar(archive: Path, dest: Path, wanted: set[str]) -> dict[str, str]:
    out = {}
    with tarfile.open(archive, "r:*") as tf:
        for member in tf:
            base = Path(member.name).name
            if member.isfile() and base in wanted and base not in out:
                src = tf.extractfile(member)
                if src is not None:
                    with src:
                        out[base] = _copy(src, dest / base)
    return out


def _extract_7z(archive: Path, dest: Path, wanted: set[str]) -> dict[str, str]:
    import py7zr

    out = {}
    with py7zr.SevenZipFile(archive) as z:
        targets = [n for n in z.getnames() if Path(n).name in wanted]
        if not targets:
            return out
        with tempfile.TemporaryDirectory(dir=dest, prefix=".codecbench-extract-") as tmp:
            z.extract(path=tmp, targets=targets)
            for name in targets:
                src = Path(tmp) / name
                base = src.name
                if src.is_file() and base not in out:
                    out[base] = file_digests(src)[0]
                    os.replace(src, dest / base)  # same file system: a rename, not a second copy
    return out


def _archive_errors() -> tuple[type[BaseException], ...]:
    import lzma
    import zlib

    import py7zr.exceptions

    return (
        zipfile.BadZipFile,
        tarfile.TarError,
        py7zr.exceptions.ArchiveError,
        EOFError,
        zlib.error,
        lzma.LZMAError,
        OSError,
        ValueError,
    )


def extract(archive: Path, dest: Path, wanted: Iterable[str]) -> dict[str, str]:
    """Extract the members of ``archive`` whose base names are in ``wanted`` into ``dest`` (flattened).

    Returns ``{file name: SHA-256}`` of what was extracted. A corrupt or unreadable archive raises a
    :class:`CodecbenchError`; nothing half-written is left under a final name.
    """
    kind = archive_kind(archive)
    if kind is None:
        raise CodecbenchError(f"{archive}: not an archive codecbench can extract (zip, tar.*, 7z)")
    fn = {"zip": _extract_zip, "tar": _extract_tar, "7z": _extract_7z}[kind]
    try:
        return fn(Path(archive), Path(dest), set(wanted))
    except _archive_errors() as e:
        msg = f"{archive}: corrupt or unreadable {kind} archive ({type(e).__name__}: {e})"
        raise CodecbenchError(msg) from None
