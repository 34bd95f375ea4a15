"""The ``results/`` folder: where validated submissions are stored, safely.

Submissions live in ``results/submissions/<dataset>/<codec>--<version>-<hash>.json``. File names
are derived from (validated) names through a slug plus a hash of the exact names, never taken
from the submission as given; every path is checked to stay inside ``results/`` after resolving
symlinks, and symlinked files or folders are refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from codecbench.errors import CodecbenchError
from codecbench.leaderboard.schema import MAX_BYTES, Submission, SubmissionError, parse, validate

SUBMISSIONS = "submissions"
LEADERBOARD = "leaderboard"


def slug(text: str) -> str:
    """A file-name-safe form of ``text``: [A-Za-z0-9._-], no leading dot, at most 60 characters."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-")[:60]
    return s or "x"


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
    """Where ``sub`` is stored under ``results``."""
    key = hashlib.sha256(json.dumps([sub.dataset, sub.codec, sub.version]).encode()).hexdigest()[:10]
    name = f"{slug(sub.codec)}--{slug(sub.version)}-{key}.json"
    return results / SUBMISSIONS / slug(sub.dataset) / name


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def submit(file: Path, results: Path, replace: bool = False) -> Path:
    """Validate ``file`` and store it in ``results``; a second submission of the same codec,
    version and dataset is refused unless ``replace``."""
    sub = read_submission_file(file)
    results.mkdir(parents=True, exist_ok=True)
    dest = submission_path(results, sub)
    inside(results, dest.parent.parent)
    dest.parent.mkdir(parents=True, exist_ok=True)
    inside(results, dest.parent)
    if dest.exists() or dest.is_symlink():
        inside(results, dest)
        if not replace:
            raise CodecbenchError(
                f"{sub.codec} {sub.version} on {sub.dataset} is already submitted ({dest}); "
                "pass --replace to overwrite it"
            )
    _atomic_write(dest, json.dumps(sub.data, indent=1, sort_keys=True, allow_nan=False) + "\n")
    return dest


def load_submissions(results: Path) -> list[Submission]:
    """Every stored submission, each validated again; any invalid or symlinked file is an error."""
    folder = results / SUBMISSIONS
    if not folder.exists():
        return []
    inside(results, folder)
    subs, problems = [], []
    for path in sorted(folder.glob("*/*.json")):
        try:
            inside(results, path)
            subs.append(read_submission_file(path))
        except CodecbenchError as e:
            problems.append(str(e))
    if problems:
        raise CodecbenchError("cannot build the leaderboard:\n" + "\n".join(problems))
    return subs
