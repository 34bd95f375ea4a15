"""Get a standard test set onto disk: download, verify, extract and validate (``codecbench datasets fetch``).

Public sets are downloaded into ``ROOT/`` with resumable HTTP (a ``.part`` file continued with a Range
request), checked against published checksums (or, where none is published, their SHA-256 is recorded
in ``ROOT/.codecbench-manifest.json`` so that later runs detect a changed file), and extracted. For
licensed sets nothing is downloaded: their instructions say where to get them; archives the user put in
``ROOT`` are extracted. Every run ends by validating each expected raw file: present, a whole number of
frames, and at least the published frame count.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from filelock import FileLock
from tqdm import tqdm

from codecbench.atomic import atomic_path, atomic_write_text
from codecbench.datasets.base import Dataset, Download, SequenceInfo
from codecbench.errors import CodecbenchError, InputFormatError
from codecbench.paths import data_root
from codecbench.version import __version__
from codecbench.yuv import frame_count

MANIFEST = ".codecbench-manifest.json"
LOCK = ".codecbench-fetch.lock"
CHUNK = 1 << 20
TIMEOUT_S = 60.0
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")

Log = Callable[[str], None]


def default_root(name: str) -> Path:
    """Where dataset ``name`` lives when no ``--root`` is given: ``$CODECBENCH_DATA/NAME`` or the cache's."""
    return data_root(name)


# ----------------------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class SequenceStatus:
    """What was found on disk for one expected sequence; ``problem`` is None when it is usable."""

    sequence: SequenceInfo
    path: Path
    frames: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_sequence(seq: SequenceInfo, root: Path) -> SequenceStatus:
    """Check one raw file: present, a whole number of frames of its format, at least the published count."""
    path = Path(root) / seq.file
    if not path.is_file():
        return SequenceStatus(seq, path, None, "missing")
    try:
        n = frame_count(path, seq.format)
    except InputFormatError as e:
        return SequenceStatus(seq, path, None, str(e).removeprefix(f"{path}: "))
    if n < seq.frames:
        return SequenceStatus(seq, path, n, f"has {n} frames, the dataset publishes {seq.frames}")
    return SequenceStatus(seq, path, n, None)


def validate(dataset: Dataset, root: Path, names: list[str] | None = None) -> list[SequenceStatus]:
    """Status of each selected sequence of ``dataset`` under ``root``."""
    return [check_sequence(s, Path(root)) for s in dataset.select(names)]


@dataclass
class FetchReport:
    """Outcome of :func:`fetch`: what was found, downloaded and extracted."""

    dataset: Dataset
    root: Path
    statuses: list[SequenceStatus]
    downloaded: list[Path] = field(default_factory=list)
    extracted: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(s.ok for s in self.statuses)

    @property
    def problems(self) -> list[SequenceStatus]:
        return [s for s in self.statuses if not s.ok]

    def summary(self) -> str:
        """A table of every selected sequence and its state, then a one-line verdict."""
        width = max((len(s.sequence.file) for s in self.statuses), default=0)
        lines = [
            f"  {s.sequence.file:<{width}}  "
            + (f"ok ({s.frames} frames)" if s.ok else f"PROBLEM: {s.problem}")
            for s in self.statuses
        ]
        bad = self.problems
        verdict = (
            f"dataset {self.dataset.name!r}: all {len(self.statuses)} sequence(s) valid in {self.root}"
            if not bad
            else f"dataset {self.dataset.name!r}: {len(bad)} of {len(self.statuses)} sequence(s) "
            f"missing or invalid in {self.root}"
        )
        return "\n".join([*lines, verdict])


# ------------------------------------------------------------------------------------------- manifest


class Manifest:
    """``ROOT/.codecbench-manifest.json``: checksums of what ``fetch`` downloaded and extracted."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / MANIFEST
        self.data: dict = {"files": {}, "sequences": {}}
        if self.path.is_file():
            try:
                self.data.update(json.loads(self.path.read_text()))
            except (OSError, ValueError) as e:
                raise CodecbenchError(
                    f"{self.path} is unreadable ({e}); delete it and run fetch again"
                ) from None

    def file(self, name: str) -> dict | None:
        return self.data["files"].get(name)

    def record_file(self, name: str, **info: object) -> None:
        self.data["files"][name] = {**info, "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self.save()

    def record_sequence(self, name: str, **info: object) -> None:
        self.data["sequences"][name] = info
        self.save()

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps(self.data, indent=1, sort_keys=True))


# ------------------------------------------------------------------------------------------ checksums


def file_digests(path: Path, md5: bool = False) -> tuple[str, str | None]:
    """SHA-256 (and MD5 when asked) of a file, read once."""
    sha, m = hashlib.sha256(), hashlib.md5() if md5 else None
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
            if m is not None:
                m.update(chunk)
    return sha.hexdigest(), m.hexdigest() if m is not None else None


def _quarantine(path: Path) -> Path:
    bad = path.with_name(path.name.removesuffix(".part") + ".bad")
    os.replace(path, bad)
    return bad


def verify(path: Path, sha256: str | None = None, md5: str | None = None, what: str = "") -> str:
    """Check ``path`` against the given checksums; on a mismatch it is renamed ``*.bad`` and an error raised.

    Returns the file's SHA-256, computed in any case so that it can be recorded.
    """
    got_sha, got_md5 = file_digests(path, md5=md5 is not None)
    for kind, want, got in (("SHA-256", sha256, got_sha), ("MD5", md5, got_md5)):
        if want is not None and want.lower() != got:
            bad = _quarantine(path)
            raise CodecbenchError(
                f"{what or path.name}: {kind} mismatch (expected {want.lower()}, got {got}); "
                f"the file was moved to {bad} and will be downloaded again on the next run"
            )
    return got_sha


# ------------------------------------------------------------------------------------------- download


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """``(first byte, total size)`` of a ``Content-Range: bytes a-b/n`` (or ``bytes */n``) header."""
    if not value or not value.startswith("bytes "):
        return None, None
    span, _, total = value[6:].partition("/")
    first = int(span.split("-")[0]) if span and span != "*" else None
    return first, int(total) if total.isdigit() else None


def _request(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": f"codecbench/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urlopen(Request(url, headers=headers), timeout=timeout)


def download(
    url: str,
    dest: Path,
    *,
    size: int | None = None,
    progress: bool = True,
    timeout: float = TIMEOUT_S,
) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` with an HTTP Range request when it exists.

    A server that ignores the Range header gets the file restarted from byte 0. Any failure raises a
    :class:`CodecbenchError` and keeps the partial file, so that running again resumes it. Checksums
    are the caller's business (:func:`verify`); ``size``, when known, is checked here.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    keep = f"; the partial file {part} is kept and the next run resumes it"
    try:
        resp = _request(url, have, timeout)
    except HTTPError as e:
        _, total = _content_range(e.headers.get("Content-Range") if e.headers else None)
        if e.code == 416 and have and total == have:
            resp = None  # the partial file already holds every byte
        elif e.code == 416 and have:
            part.unlink()  # the partial file is longer than the resource: start again
            return download(url, dest, size=size, progress=progress, timeout=timeout)
        else:
            raise CodecbenchError(f"download of {url} failed: HTTP {e.code} {e.reason}") from None
    except (URLError, OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", None) or e
        raise CodecbenchError(f"download of {url} failed: {reason}" + (keep if have else "")) from None

    if resp is not None:
        with resp:
            first, total = _content_range(resp.headers.get("Content-Range"))
            length = resp.headers.get("Content-Length")
            if resp.status == 206 and not (have and first == have):
                part.unlink(missing_ok=True)  # a range we did not ask for: start again without one
                return download(url, dest, size=size, progress=progress, timeout=timeout)
            if resp.status == 206:
                mode = "ab"
                total = total if total is not None else (have + int(length) if length else None)
            else:  # a fresh download, or a server that ignored the Range header: start from byte 0
                have, mode = 0, "wb"
                total = int(length) if length else None
            try:
                with (
                    open(part, mode) as out,
                    tqdm(
                        total=total,
                        initial=have,
                        unit="B",
                        unit_scale=True,
                        unit_divisor=1024,
                        desc=dest.name,
                        disable=not progress,
                        file=sys.stderr,
                    ) as bar,
                ):
                    while chunk := resp.read(CHUNK):
                        out.write(chunk)
                        have += len(chunk)
                        bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as e:
                msg = f"download of {url} interrupted after {have} bytes: {e}{keep}"
                raise CodecbenchError(msg) from None
        if total is not None and have < total:
            raise CodecbenchError(f"download of {url} ended early: got {have} of {total} bytes{keep}")
    if size is not None and have != size:
        bad = _quarantine(part)
        raise CodecbenchError(
            f"download of {url}: {have} bytes, the catalog says {size}; moved to {bad}, "
            "it will be downloaded again on the next run"
        )
    os.replace(part, dest)
    return dest


# --------------------------------------------------------------------------------------------- extract


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


# ----------------------------------------------------------------------------------------------- fetch


def _needed_downloads(dataset: Dataset, todo: list[SequenceStatus]) -> list[tuple[Download, set[str]]]:
    """Each download that provides a missing sequence, with the file names it should provide."""
    missing = {s.sequence.name: s.sequence.file for s in todo}
    out = []
    for dl in dataset.downloads:
        files = {missing[n] for n in dl.sequences if n in missing}
        if files:
            out.append((dl, files))
    covered = {n for dl, _ in out for n in dl.sequences}
    orphans = sorted(set(missing) - covered)
    if orphans:
        raise CodecbenchError(f"dataset {dataset.name!r} lists no download for: {', '.join(orphans)}")
    return out


def _obtain(dl: Download, root: Path, manifest: Manifest, progress: bool, log: Log) -> tuple[Path, bool]:
    """Make sure ``root/dl.filename`` is present and verified; returns it and whether it was downloaded."""
    path = root / dl.filename
    fresh = not path.is_file()
    if fresh:
        part = path.with_name(path.name + ".part")
        log(("resuming " if part.is_file() else "downloading ") + dl.url)
        download(dl.url, path, size=dl.size, progress=progress)
    published = dl.sha256 is not None or dl.md5 is not None
    recorded = (manifest.file(dl.filename) or {}).get("sha256")
    sha = verify(path, dl.sha256 or (None if fresh else recorded), dl.md5, what=dl.filename)
    manifest.record_file(
        dl.filename,
        url=dl.url,
        size=path.stat().st_size,
        sha256=sha,
        checksum="published" if published else "recorded on first download (none published)",
    )
    log(f"{dl.filename}: " + ("checksum verified" if published else f"sha256 {sha} recorded in {MANIFEST}"))
    return path, fresh


def _extract_into(archive: Path, root: Path, files: set[str], manifest: Manifest, log: Log) -> list[Path]:
    log(f"extracting {', '.join(sorted(files))} from {archive.name}")
    got = extract(archive, root, files)
    for name, sha in got.items():
        manifest.record_sequence(name, sha256=sha, size=(root / name).stat().st_size, archive=archive.name)
    return [root / name for name in sorted(got)]


def _fetch_public(
    dataset: Dataset, root: Path, todo: list[SequenceStatus], keep: bool, progress: bool, log: Log
) -> FetchReport:
    manifest = Manifest(root)
    report = FetchReport(dataset, root, [])
    for dl, files in _needed_downloads(dataset, todo):
        path, fresh = _obtain(dl, root, manifest, progress, log)
        if fresh:
            report.downloaded.append(path)
        if archive_kind(path) is None:
            continue  # a raw sequence file, already in place
        try:
            got = _extract_into(path, root, files, manifest, log)
        except CodecbenchError as e:
            bad = _quarantine(path)
            msg = f"{e}; moved to {bad}, it will be downloaded again on the next run"
            raise CodecbenchError(msg) from None
        absent = sorted(files - {p.name for p in got})
        if absent:
            raise CodecbenchError(f"{path.name} does not contain {', '.join(absent)}")
        report.extracted += got
        if not keep and all(check_sequence(dataset.sequence(n), root).ok for n in dl.sequences):
            path.unlink()
            log(f"removed {path.name} (its sequences are extracted and valid; --keep-archives keeps it)")
    return report


def _fetch_licensed(dataset: Dataset, root: Path, todo: list[SequenceStatus], log: Log) -> FetchReport:
    report = FetchReport(dataset, root, [])
    log(dataset.instructions or f"dataset {dataset.name!r} cannot be downloaded; put its files in {root}")
    wanted = {s.sequence.file for s in todo}
    archives = sorted(p for p in root.iterdir() if p.is_file() and archive_kind(p) is not None)
    manifest = Manifest(root) if archives else None
    for archive in archives:
        if not wanted:
            break
        try:
            got = _extract_into(archive, root, wanted, manifest, log)
        except CodecbenchError as e:
            report.warnings.append(str(e))
            log(f"warning: {e}")
            continue
        report.extracted += got
        wanted -= {p.name for p in got}
    return report


def fetch(
    dataset: Dataset,
    root: Path | str | None = None,
    names: list[str] | None = None,
    *,
    keep_archives: bool = False,
    progress: bool = True,
    log: Log = print,
) -> FetchReport:
    """Bring the selected sequences of ``dataset`` into ``root`` as far as possible, then validate them.

    Sequences already present and valid are left alone (no network access at all when every one is).
    Public sets are downloaded, verified and extracted; downloaded archives are removed once their
    sequences validate, unless ``keep_archives``. Licensed sets get their instructions logged and any
    archives found in ``root`` extracted. The report says what is still missing or invalid.
    """
    root = Path(root).expanduser() if root is not None else default_root(dataset.name)
    chosen = [s.name for s in dataset.select(names)]
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CodecbenchError(f"cannot create dataset folder {root}: {e.strerror or e}") from None
    if not os.access(root, os.W_OK):
        raise CodecbenchError(f"dataset folder {root} is not writable")
    with FileLock(str(root / LOCK)):  # two fetches into one root take turns, never share a .part file
        todo = [s for s in validate(dataset, root, chosen) if not s.ok]
        if not todo:
            report = FetchReport(dataset, root, [])
        elif dataset.public:
            report = _fetch_public(dataset, root, todo, keep_archives, progress, log)
        else:
            report = _fetch_licensed(dataset, root, todo, log)
        report.statuses = validate(dataset, root, chosen)
    return report


__all__ = [
    "FetchReport",
    "MANIFEST",
    "SequenceStatus",
    "check_sequence",
    "default_root",
    "download",
    "extract",
    "fetch",
    "validate",
    "verify",
]
