"""The video types every codec and metric shares: a raw format, a frame of planes, and a clip on disk,
with the streaming reader of raw YUV files the clip reads through (writing and colour conversion are
in :mod:`codecbench.yuv`, which builds on these types)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from codecbench.errors import InputFormatError

CHROMA_FORMATS = ("420",)


@dataclass(frozen=True)
class VideoFormat:
    """Geometry and sample format of planar YUV video (4:2:0, 8 or 10 bits, little-endian)."""

    width: int
    height: int
    bit_depth: int = 8
    chroma: str = "420"

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise InputFormatError(f"invalid resolution {self.width}x{self.height}")
        if self.width % 2 or self.height % 2:
            raise InputFormatError(
                f"4:2:0 video needs an even width and height, got {self.width}x{self.height}"
            )
        if self.bit_depth not in (8, 10):
            raise InputFormatError(f"bit depth must be 8 or 10, got {self.bit_depth}")
        if self.chroma not in CHROMA_FORMATS:
            raise InputFormatError(f"chroma format must be one of {CHROMA_FORMATS}, got {self.chroma}")

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8) if self.bit_depth == 8 else np.dtype("<u2")

    @property
    def bytes_per_sample(self) -> int:
        return 1 if self.bit_depth == 8 else 2

    @property
    def plane_shapes(self) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
        c = (self.height // 2, self.width // 2)
        return (self.height, self.width), c, c

    @property
    def samples_per_frame(self) -> int:
        return self.width * self.height * 3 // 2

    @property
    def frame_bytes(self) -> int:
        return self.samples_per_frame * self.bytes_per_sample

    @property
    def pix_fmt(self) -> str:
        """The ffmpeg pixel format name of this layout."""
        return "yuv420p" if self.bit_depth == 8 else "yuv420p10le"

    @property
    def max_value(self) -> int:
        return (1 << self.bit_depth) - 1

    @property
    def matrix(self) -> str:
        """Colour matrix by convention: BT.709 for HD (height >= 720), BT.601 for SD."""
        return "bt709" if self.height >= 720 else "bt601"

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def __str__(self) -> str:
        return f"{self.width}x{self.height} {self.chroma} {self.bit_depth}-bit"


@dataclass
class Frame:
    """One picture as three planes (Y full size, U and V half size), uint8 or uint16 samples."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @property
    def planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.y, self.u, self.v

    def matches(self, fmt: VideoFormat) -> bool:
        """True when the planes have exactly the shapes and dtype of ``fmt``."""
        return all(p.shape == s and p.dtype == fmt.dtype for p, s in zip(self.planes, fmt.plane_shapes))

    def tobytes(self) -> bytes:
        return b"".join(np.ascontiguousarray(p).tobytes() for p in self.planes)


def frame_count(path: Path | str, fmt: VideoFormat) -> int:
    """Number of whole frames in a raw YUV file; raises when its size is not a multiple of a frame."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputFormatError(f"{path}: no such YUV file") from None
    if size == 0:
        raise InputFormatError(f"{path}: empty YUV file")
    if size % fmt.frame_bytes:
        raise InputFormatError(
            f"{path}: size {size} bytes is not a whole number of {fmt} frames "
            f"(expected a multiple of {fmt.frame_bytes} bytes per frame; "
            f"{size // fmt.frame_bytes} whole frames and {size % fmt.frame_bytes} bytes left over)"
        )
    return size // fmt.frame_bytes


def read_yuv(path: Path | str, fmt: VideoFormat, start: int = 0, count: int | None = None) -> Iterator[Frame]:
    """Yield ``count`` frames (all when None) from ``start``, one at a time."""
    total = frame_count(path, fmt)
    if start > total:
        raise InputFormatError(f"{path}: asked for frame {start} of a {total}-frame file")
    end = total if count is None else min(total, start + count)
    shapes = fmt.plane_shapes
    sizes = [h * w for h, w in shapes]
    with open(path, "rb") as f:
        f.seek(start * fmt.frame_bytes)
        for _ in range(start, end):
            planes = []
            for (h, w), n in zip(shapes, sizes):
                a = np.fromfile(f, dtype=fmt.dtype, count=n)
                if a.size != n:
                    raise InputFormatError(f"{path}: file ended inside a frame")
                planes.append(a.reshape(h, w))
            yield Frame(*planes)


@dataclass(frozen=True)
class Clip:
    """A sequence on disk: a raw YUV file, its format, and how many of its frames are used."""

    name: str
    path: Path
    format: VideoFormat
    fps: float
    frames: int
    dataset: str = "custom"
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    def read(self, start: int = 0, count: int | None = None) -> Iterator[Frame]:
        """Stream the clip's frames one at a time, from ``start`` within its first ``frames``."""
        end = self.frames if count is None else min(self.frames, start + count)
        return read_yuv(self.path, self.format, start=start, count=max(0, end - start))

    def limited(self, frames: int | None) -> Clip:
        """The same clip restricted to its first ``frames`` frames (None keeps all)."""
        if frames is None or frames >= self.frames:
            return self
        return replace(self, frames=frames)

    @property
    def nbytes(self) -> int:
        return self.frames * self.format.frame_bytes
