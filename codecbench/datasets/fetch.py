"""Get a standard test set onto disk: download, verify, extract and validate (``codecbench datasets fetch``).

This module validates and drives the steps; :mod:`~codecbench.datasets.download`,
:mod:`~codecbench.datasets.archives` and :mod:`~codecbench.datasets.manifest` do them.

Public sets are downloaded into ``ROOT/`` with resumable HTTP (a ``.part`` file continued with a Range
request), checked against published checksums (or, where none is published, their SHA-256 is recorded
in ``ROOT/.codecbench-manifest.json`` so that later runs detect a changed file), and extracted. For
licensed sets nothing is downloaded: their instructions say where to get them; archives the user put in
``ROOT`` are extracted. Every run ends by validating each expected raw file: present, a whole number of
frames, and at least the published frame count.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from codecbench.datasets.archives import archive_kind, extract
from codecbench.datasets.base import Dataset, Download, SequenceInfo
from codecbench.datasets.download import download, quarantine, verify
from codecbench.datasets.manifest import MANIFEST, Manifest
from codecbench.errors import CodecbenchError, InputFormatError
from codecbench.paths import data_root
from codecbench.video import frame_count

LOCK = ".codecbench-fetch.lock"

Log = Callable[[str], None]


def default_root(name: str) -> Path:
    """Where dataset ``name`` lives when no ``--root`` is given: ``$CODECBENCH_DATA/NAME`` or the cache's."""
    return data_root(name)


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
            bad = quarantine(path)
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


__all__ = ["FetchReport", "SequenceStatus", "check_sequence", "default_root", "fetch", "validate"]
