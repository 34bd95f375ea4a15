"""Finding and running ffmpeg: the ``imageio-ffmpeg`` static build unless the user picks another.

Part of the plugin contract (``from codecbench import ffmpeg``): codecs that drive ffmpeg (the
anchors) and dataset builders use :func:`ffmpeg_exe`, :func:`run`, :func:`version`,
:func:`has_encoder`, :func:`has_decoder`, :func:`has_filter`, :func:`rawvideo_input` and
:func:`tail`. Set ``CODECBENCH_FFMPEG`` (or a codec's ``ffmpeg`` option) to use a different binary.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from codecbench.errors import CodecUnavailableError, ToolError

ENV_VAR = "CODECBENCH_FFMPEG"


def ffmpeg_exe(explicit: str | os.PathLike | None = None) -> str:
    """Path of the ffmpeg binary to use: ``explicit``, then ``$CODECBENCH_FFMPEG``, then imageio-ffmpeg's."""
    choice = explicit or os.environ.get(ENV_VAR)
    if choice:
        found = shutil.which(str(choice))
        if not found:
            raise CodecUnavailableError(f"ffmpeg {choice!r} (from {ENV_VAR} or option) is not an executable")
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as e:  # package missing or its binary removed
        raise CodecUnavailableError(
            f"no usable ffmpeg: install the imageio-ffmpeg wheel or set {ENV_VAR} ({e})"
        ) from e


@functools.cache
def _query(exe: str, flag: str) -> str:
    try:
        out = subprocess.run([exe, "-hide_banner", flag], capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise CodecUnavailableError(f"ffmpeg {exe} cannot run: {e}") from e
    if out.returncode != 0:
        raise CodecUnavailableError(f"ffmpeg {exe} {flag} failed: {tail(out.stderr)}")
    return out.stdout


def version(exe: str | None = None) -> str:
    """First line of ``ffmpeg -version``."""
    return _query(exe or ffmpeg_exe(), "-version").splitlines()[0].strip()


def _names(listing: str) -> set[str]:
    names = set()
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) >= 2 and set(parts[0]) <= set("VASFXBDTCI.|-"):
            names.add(parts[1])
    return names


def has_encoder(name: str, exe: str | None = None) -> bool:
    return name in _names(_query(exe or ffmpeg_exe(), "-encoders"))


def has_decoder(name: str, exe: str | None = None) -> bool:
    return name in _names(_query(exe or ffmpeg_exe(), "-decoders"))


def has_filter(name: str, exe: str | None = None) -> bool:
    return name in _names(_query(exe or ffmpeg_exe(), "-filters"))


def tail(text: str, lines: int = 15) -> str:
    """The last ``lines`` lines of a tool's output, for error messages."""
    return "\n".join(text.strip().splitlines()[-lines:])


def run(
    args: Sequence[str | os.PathLike],
    exe: str | None = None,
    what: str = "ffmpeg",
    stdin: bytes | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """Run ffmpeg with ``args``; on failure raise :class:`ToolError` with the tail of its stderr."""
    cmd = [exe or ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *map(str, args)]
    try:
        proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise ToolError(f"{what} timed out after {timeout}s: {' '.join(cmd)}") from e
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace")
        raise ToolError(f"{what} failed (exit {proc.returncode}): {tail(err)}\ncommand: {' '.join(cmd)}")
    return proc


def rawvideo_input(path: Path, pix_fmt: str, width: int, height: int, fps: float = 25) -> list[str]:
    """ffmpeg input arguments for a raw YUV file."""
    return ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{width}x{height}", "-r", str(fps), "-i", str(path)]


__all__ = [
    "ENV_VAR",
    "ffmpeg_exe",
    "has_decoder",
    "has_encoder",
    "has_filter",
    "rawvideo_input",
    "run",
    "tail",
    "version",
]
