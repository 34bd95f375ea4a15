"""The ``results/`` folder: where validated submissions and their bitstreams are stored, safely.

Submissions live in ``results/submissions/<dataset>/<codec>--<version>-<hash>.json``. File names
are derived from (validated) names through a slug plus a hash of the exact names, never taken
from the submission as given; every path is checked to stay inside ``results/`` after resolving
symlinks, and symlinked files or folders are refused.

Bitstreams live in ``results/bitstreams/<first two hex>/<sha256><suffix>``: content-addressed, so
the anchor rows that several submissions of one run share are stored once, and named only from a
validated SHA-256 and suffix. A stored bitstream is checked (size and SHA-256) before it is
written, written atomically (fsync, then a no-clobber link), and never replaced by other bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codecbench.atomic import atomic_write_bytes, fsync_dir, temp_beside
from codecbench.errors import CodecbenchError
from codecbench.leaderboard.schema import (
    MAX_BYTES,
    SHA256_RE,
    SUFFIX_RE,
    Submission,
    SubmissionError,
    parse,
    validate,
)
from codecbench.slugs import slug
from codecbench.yuv import sha256_file

SUBMISSIONS = "submissions"
LEADERBOARD = "leaderboard"
BITSTREAMS = "bitstreams"
_CHUNK = 1 << 20


def published_name(text: str) -> str:
    """The file-name part of a published name: [A-Za-z0-9._-], no leading dot, at most 60 characters."""
    return slug(text, "-", strip_dots=True, limit=60)


def inside(root: Path, path: Path) -> Path:
    """``path`` resolved, after checking it stays inside ``root`` and no part of it is a symlink."""
    root_r = root.resolve()
    rel = path.relative_to(root) if not path.is_absolute() or path.is_relative_to(root) else None
    if rel is None or ".." in rel.parts:
        raise CodecbenchError(f"refusing path {path}: it is outside {root}")
    current = root
    for part in rel.parts:
        current = current / part
        if current.is_symlink():
            raise CodecbenchError(f"refusing {current}: it is a symbolic link")
    resolved = path.resolve()
    if not resolved.is_relative_to(root_r):
        raise CodecbenchError(f"refusing path {path}: it resolves outside {root}")
    return resolved


def read_submission_file(path: Path) -> Submission:
    """Parse and validate one submission file (size checked before reading)."""
    if path.is_symlink():
        raise SubmissionError(str(path), ["is a symbolic link; submit the file itself"])
    if not path.is_file():
        raise CodecbenchError(f"no submission file at {path}")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SubmissionError(str(path), [f"file is {size} bytes; the limit is {MAX_BYTES}"])
    with open(path, "rb") as f:
        raw = f.read(MAX_BYTES + 1)
    return validate(parse(raw, str(path)), str(path))


def submission_path(results: Path, sub: Submission) -> Path:
    """Where ``sub`` is stored under ``results``: one file per dataset, setting (the anchor's
    coding configuration: low delay, random access), codec and version."""
    key = hashlib.sha256(json.dumps([sub.dataset, sub.setting, sub.codec, sub.version]).encode()).hexdigest()[
        :10
    ]
    name = f"{published_name(sub.codec)}--{published_name(sub.setting)}--{published_name(sub.version)}-{key}.json"
    return results / SUBMISSIONS / published_name(sub.dataset) / name


#: Published files are readable by everyone.
PUBLISHED_MODE = 0o644


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` atomically (fsynced), readable by everyone."""
    atomic_write_bytes(path, data, PUBLISHED_MODE)


# --- bitstreams ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BitstreamRef:
    """The bitstream one row claims: its file name comes from the validated hash and suffix only."""

    row: str  # e.g. "anchor hevc: Clouds @ 37", for messages
    sha256: str
    suffix: str
    size: int

    @property
    def name(self) -> str:
        if not SHA256_RE.fullmatch(self.sha256) or not SUFFIX_RE.fullmatch(self.suffix):
            raise CodecbenchError(f"{self.row}: not a valid bitstream hash and suffix")
        return f"{self.sha256}{self.suffix}"


def row_label(part: str, name: str, row: dict[str, Any]) -> str:
    """``codec vvc: Clouds @ 37``: which row a message is about."""
    return f"{part} {name}: {row['sequence']} @ {row['rate_point']}"


def bitstream_refs(sub: Submission) -> list[BitstreamRef]:
    """Every row's bitstream (codec rows first, then anchor rows); empty for a format-1 submission."""
    if not sub.has_provenance:
        return []
    return [
        BitstreamRef(row_label(part, info["name"], r), r["bitstream_sha256"], info["suffix"], r["bytes"])
        for part, info in sub.parts()
        for r in info["rows"]
    ]


def bitstream_path(results: Path, ref: BitstreamRef) -> Path:
    """Where ``ref`` is stored under ``results``: ``bitstreams/<first two hex>/<sha256><suffix>``."""
    return results / BITSTREAMS / ref.sha256[:2] / ref.name


def bitstreams_folder(submission_file: Path) -> Path:
    """The bitstreams folder written beside a submission file: ``X.json`` -> ``X.bitstreams``."""
    stem = submission_file.stem if submission_file.suffix == ".json" else submission_file.name
    return submission_file.with_name(f"{stem}.bitstreams")


def check_bitstream(path: Path, ref: BitstreamRef) -> str | None:
    """Why the file at ``path`` is not the bitstream ``ref`` claims (missing, size, SHA-256); None if it is."""
    if path.is_symlink():
        return f"{ref.row}: bitstream {path} is a symbolic link"
    if not path.is_file():
        return f"{ref.row}: bitstream {ref.name} is missing"
    size = path.stat().st_size
    if size != ref.size:
        return f"{ref.row}: bitstream {ref.name} has {size} bytes, the row says {ref.size}"
    if sha256_file(path) != ref.sha256:
        return f"{ref.row}: bitstream {ref.name} has a different SHA-256 than its row's bitstream_sha256"
    return None


def store_bitstream(src: Path, dest: Path, ref: BitstreamRef) -> bool:
    """Copy ``src`` to ``dest`` (its content-addressed place), checking the copy's SHA-256; False
    when ``dest`` already holds these bytes. Never replaces a file holding other bytes."""

    def existing() -> bool:
        if not (dest.exists() or dest.is_symlink()):
            return False
        problem = check_bitstream(dest, ref)
        if problem:
            raise CodecbenchError(
                f"{dest} is already stored and is not that bitstream; refusing to overwrite it"
            )
        return True

    if existing():
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(dest)
    try:
        h = hashlib.sha256()
        with open(tmp, "xb") as out, open(src, "rb") as f:
            while block := f.read(_CHUNK):
                h.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, PUBLISHED_MODE)
        if h.hexdigest() != ref.sha256:
            raise CodecbenchError(f"{src} changed while it was copied; submit again")
        try:
            os.link(tmp, dest)  # fails if dest exists: a concurrent writer's file is never replaced
        except FileExistsError:
            return not existing()
        except OSError:  # a file system without hard links
            if existing():
                return False
            os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(dest.parent)
    return True


def stored_bitstreams(results: Path, sub: Submission) -> tuple[int, int]:
    """(bitstreams of ``sub`` present under ``results`` with the right size, bitstreams it has).

    A quick check by name and size for the leaderboard; ``leaderboard verify`` checks hashes and decodes.
    """
    refs = {r.name: r for r in bitstream_refs(sub)}
    present = 0
    for ref in refs.values():
        path = bitstream_path(results, ref)
        if not path.is_symlink() and path.is_file() and path.stat().st_size == ref.size:
            present += 1
    return present, len(refs)


# --- submissions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    """What :func:`submit` stored."""

    path: Path
    #: Bitstreams of the submission, newly written, and already stored (shared with another submission).
    bitstreams: int
    written: int
    already: int
    #: Whether every bitstream of the submission is now stored under ``results/bitstreams``.
    verifiable: bool


def submit(file: Path, results: Path, replace: bool = False, bitstreams: Path | None = None) -> Submitted:
    """Validate ``file`` and store it in ``results``, with its bitstreams from ``bitstreams`` (default:
    the ``X.bitstreams`` folder beside ``X.json``, when present), each checked against its row's
    size and SHA-256 first. A second submission of the same codec, version and dataset is refused
    unless ``replace``. Without bitstreams it is stored but unverifiable."""
    sub = read_submission_file(file)
    if bitstreams is not None and not bitstreams.is_dir():
        raise CodecbenchError(f"no bitstreams folder at {bitstreams}")
    folder = bitstreams if bitstreams is not None else bitstreams_folder(file)
    folder = folder if folder.is_dir() else None
    refs = {r.name: r for r in bitstream_refs(sub)}
    if folder is not None and not sub.has_provenance:
        raise SubmissionError(
            str(file),
            [f"format {sub.format!r} carries no bitstream hashes; export it again to submit {folder}"],
        )
    dest = submission_path(results, sub)
    inside(results, dest.parent)
    if dest.exists() or dest.is_symlink():
        inside(results, dest)
        if not replace:
            raise CodecbenchError(
                f"{sub.codec} {sub.version} on {sub.dataset} ({sub.setting}) is already submitted ({dest}); "
                "pass --replace to overwrite it"
            )
    if folder is not None:  # every bitstream is checked before anything is written
        problems = [p for r in bitstream_refs(sub) if (p := check_bitstream(folder / r.name, r))]
        if problems:
            raise SubmissionError(str(file), problems)
    results.mkdir(parents=True, exist_ok=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    inside(results, dest.parent)
    written = already = 0
    if folder is not None:
        for ref in refs.values():
            target = bitstream_path(results, ref)
            inside(results, target.parent)  # before mkdir: a symlinked bitstreams/ is never followed
            target.parent.mkdir(parents=True, exist_ok=True)
            inside(results, target.parent)
            if target.exists() or target.is_symlink():
                inside(results, target)
            if store_bitstream(folder / ref.name, target, ref):
                written += 1
            else:
                already += 1
    write_atomic(dest, (json.dumps(sub.data, indent=1, sort_keys=True, allow_nan=False) + "\n").encode())
    present, total = stored_bitstreams(results, sub)
    return Submitted(dest, total, written, already, total > 0 and present == total)


def load_submissions(results: Path) -> list[Submission]:
    """Every stored submission, each validated again; any invalid or symlinked file is an error."""
    return [sub for _, sub in load_submission_files(results)]


def load_submission_files(results: Path) -> list[tuple[Path, Submission]]:
    """``(path, submission)`` of every stored submission, each validated again."""
    folder = results / SUBMISSIONS
    if not folder.exists():
        return []
    inside(results, folder)
    subs, problems = [], []
    for path in sorted(folder.glob("*/*.json")):
        try:
            inside(results, path)
            subs.append((path, read_submission_file(path)))
        except CodecbenchError as e:
            problems.append(str(e))
    if problems:
        raise CodecbenchError(f"invalid files under {folder}:\n" + "\n".join(problems))
    return subs
