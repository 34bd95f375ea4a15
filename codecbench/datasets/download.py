"""Downloading a dataset's files: resumable HTTP and checksum verification.

A download goes to ``NAME.part`` and is continued with a Range request when interrupted; a
finished file is checked against its published checksums, and a mismatch is moved aside as
``NAME.bad`` so that the next run downloads it again.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from tqdm import tqdm

from codecbench.errors import CodecbenchError
from codecbench.version import __version__

#: Bytes read or written at a time.
CHUNK = 1 << 20
#: Seconds a download may stall before it is given up (and can be resumed).
TIMEOUT_S = 60.0


def file_digests(path: Path, md5: bool = False) -> tuple[str, str | None]:
    """SHA-256 (and MD5 when asked) of a file, read once."""
    sha, m = hashlib.sha256(), hashlib.md5() if md5 else None
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
            if m is not None:
                m.update(chunk)
    return sha.hexdigest(), m.hexdigest() if m is not None else None


def quarantine(path: Path) -> Path:
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
            bad = quarantine(path)
            raise CodecbenchError(
                f"{what or path.name}: {kind} mismatch (expected {want.lower()}, got {got}); "
                f"the file was moved to {bad} and will be downloaded again on the next run"
            )
    return got_sha


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
        bad = quarantine(part)
        raise CodecbenchError(
            f"download of {url}: {have} bytes, the catalog says {size}; moved to {bad}, "
            "it will be downloaded again on the next run"
        )
    os.replace(part, dest)
    return dest
