"""Writing raw YUV 4:2:0 files (8 and 10 bit), their SHA-256, and BT.601/BT.709 conversion to and from RGB.

Reading is :func:`codecbench.video.read_yuv`, one frame at a time, so memory stays flat whatever the
sequence length.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

import numpy as np

from codecbench.errors import InputFormatError
from codecbench.video import Frame, VideoFormat

# (Kr, Kb) luma coefficients of each matrix.
MATRICES = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}


class YuvWriter:
    """Write frames to a raw YUV file, checking their format and hashing the bytes as they go."""

    def __init__(self, path: Path | str, fmt: VideoFormat) -> None:
        self.path = Path(path)
        self.format = fmt
        self.frames = 0
        self._sha = hashlib.sha256()
        self._f = open(self.path, "wb")

    def write(self, frame: Frame) -> None:
        if not frame.matches(self.format):
            got = " ".join(f"{p.shape}/{p.dtype}" for p in frame.planes)
            raise InputFormatError(f"frame {self.frames} does not match {self.format}: planes {got}")
        data = frame.tobytes()
        self._sha.update(data)
        self._f.write(data)
        self.frames += 1

    def write_all(self, frames: Iterable[Frame]) -> int:
        for fr in frames:
            self.write(fr)
        return self.frames

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def close(self) -> None:
        if not self._f.closed:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()

    def __enter__(self) -> YuvWriter:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def write_yuv(path: Path | str, fmt: VideoFormat, frames: Iterable[Frame]) -> str:
    """Write all ``frames`` to ``path``; returns the SHA-256 of the bytes written."""
    with YuvWriter(path, fmt) as w:
        w.write_all(frames)
    return w.sha256


def _coefficients(matrix: str) -> tuple[float, float]:
    try:
        return MATRICES[matrix]
    except KeyError:
        raise InputFormatError(f"unknown colour matrix {matrix!r}; known: {sorted(MATRICES)}") from None


def yuv_to_rgb(frame: Frame, fmt: VideoFormat, matrix: str | None = None) -> np.ndarray:
    """Limited-range YUV 4:2:0 to full-range RGB, float32 HxWx3 in [0, 1].

    Chroma is upsampled by sample repetition (nearest neighbour), the cheapest exact inverse of
    :func:`rgb_to_yuv`'s 2x2 averaging.
    """
    kr, kb = _coefficients(matrix or fmt.matrix)
    scale = float(1 << (fmt.bit_depth - 8))
    y = (frame.y.astype(np.float32) / scale - 16.0) / 219.0
    cb = (frame.u.astype(np.float32) / scale - 128.0) / 224.0
    cr = (frame.v.astype(np.float32) / scale - 128.0) / 224.0
    cb = cb.repeat(2, axis=0).repeat(2, axis=1)
    cr = cr.repeat(2, axis=0).repeat(2, axis=1)
    kg = 1.0 - kr - kb
    r = y + 2.0 * (1.0 - kr) * cr
    b = y + 2.0 * (1.0 - kb) * cb
    g = (y - kr * r - kb * b) / kg
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0)


def rgb_to_yuv(rgb: np.ndarray, fmt: VideoFormat, matrix: str | None = None) -> Frame:
    """Full-range RGB (HxWx3, [0, 1]) to limited-range YUV 4:2:0 samples of ``fmt``.

    Chroma is formed by averaging each 2x2 block.
    """
    kr, kb = _coefficients(matrix or fmt.matrix)
    rgb = np.asarray(rgb, dtype=np.float32)
    h, w = rgb.shape[:2]
    if (h, w) != (fmt.height, fmt.width):
        raise InputFormatError(f"RGB image is {w}x{h}, format is {fmt.width}x{fmt.height}")
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = kr * r + (1.0 - kr - kb) * g + kb * b
    cb = (b - y) / (2.0 * (1.0 - kb))
    cr = (r - y) / (2.0 * (1.0 - kr))
    cb = cb.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    cr = cr.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    scale = float(1 << (fmt.bit_depth - 8))
    top = fmt.max_value

    def q(x: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(x * scale), 0, top).astype(fmt.dtype)

    return Frame(q(16.0 + 219.0 * y), q(128.0 + 224.0 * cb), q(128.0 + 224.0 * cr))


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
