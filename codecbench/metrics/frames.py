"""Decoded frames shared by the metrics of a job: each frame pair is read once, and each
conversion (RGB) computed once, however many metrics use them.

The runner scores a job's frame metrics with :func:`evaluate_frame_metrics`. A metric that
declares ``frame_local = True`` (a frame's value depends on that frame pair alone; it reads
frames through ``Clip.read()`` and never modifies them or keeps them after ``evaluate``
returns) gets :class:`SharedClip` views: runs of frames read once into memory, in chunks sized
to a memory budget so that a long 1080p sequence is never held whole. Conversions go through
:func:`rgb`, which a shared frame remembers. Other metrics (plugins that make no such promise,
VMAF, which runs ffmpeg on the files) get the clips on disk, as before.

:func:`frame_pairs` streams two clips in step for consumers that are done with a pair before
asking for the next (PSNR, MS-SSIM): from memory for shared clips, else from the files into two
reused buffers, so a frame costs no allocation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codecbench.errors import CodecbenchError, InputFormatError
from codecbench.metrics.base import Metric
from codecbench.video import Clip, Frame, VideoFormat, frame_count
from codecbench.yuv import yuv_to_rgb

#: Bytes of frames (and their conversions) a job holds in memory at once, both clips together.
DEFAULT_BUDGET = 128 << 20


@dataclass
class SharedFrame(Frame):
    """A read-only frame that remembers its conversions (see :func:`rgb`)."""

    memo: dict[tuple, np.ndarray] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class SharedClip(Clip):
    """A clip, or a run of its frames, held in memory: ``read()`` serves the shared frames.

    A run that is not the whole clip gets a ``path`` that names no file (``file.yuv[10:20]``),
    so a metric that opens the file instead of calling ``read()`` fails instead of scoring
    other frames.
    """

    shared: tuple[SharedFrame, ...] = field(default=(), compare=False, repr=False)

    def read(self, start: int = 0, count: int | None = None) -> Iterator[Frame]:
        end = self.frames if count is None else min(self.frames, start + count)
        if start > self.frames:
            raise InputFormatError(f"{self.name}: asked for frame {start} of a {self.frames}-frame clip")
        return iter(self.shared[start:end])


def rgb(frame: Frame, fmt: VideoFormat) -> np.ndarray:
    """``yuv_to_rgb(frame, fmt)`` (float32 HxWx3), computed once per shared frame.

    The array of a shared frame is shared too: read it, do not modify it.
    """
    memo = getattr(frame, "memo", None)
    if memo is None:
        return yuv_to_rgb(frame, fmt)
    key = ("rgb", fmt)
    if key not in memo:
        memo[key] = yuv_to_rgb(frame, fmt)
    return memo[key]


def _planes(samples: np.ndarray, fmt: VideoFormat) -> list[np.ndarray]:
    """Y, U and V as views of one frame's samples."""
    planes, pos = [], 0
    for h, w in fmt.plane_shapes:
        planes.append(samples[pos : pos + h * w].reshape(h, w))
        pos += h * w
    return planes


def read_shared(clip: Clip, start: int, count: int) -> tuple[SharedFrame, ...]:
    """Frames ``start`` to ``start + count`` of a clip, read in one call, as read-only shared frames."""
    if isinstance(clip, SharedClip):
        return clip.shared[start : start + count]
    fmt = clip.format
    available = frame_count(clip.path, fmt)
    if start + count > available:
        raise InputFormatError(f"{clip.path}: asked for frames up to {start + count}, it holds {available}")
    with open(clip.path, "rb") as f:
        f.seek(start * fmt.frame_bytes)
        data = np.fromfile(f, dtype=fmt.dtype, count=count * fmt.samples_per_frame)
    if data.size != count * fmt.samples_per_frame:
        raise InputFormatError(f"{clip.path}: file ended inside a frame")
    data.flags.writeable = False
    shared = []
    for samples in data.reshape(count, fmt.samples_per_frame):
        shared.append(SharedFrame(*_planes(samples, fmt)))
    return tuple(shared)


def shared_run(clip: Clip, start: int, count: int) -> SharedClip:
    """The frames ``start`` to ``start + count`` of ``clip`` as a :class:`SharedClip`."""
    path = clip.path if (start, count) == (0, clip.frames) else Path(f"{clip.path}[{start}:{start + count}]")
    return SharedClip(
        clip.name,
        path,
        clip.format,
        clip.fps,
        count,
        clip.dataset,
        dict(clip.meta),
        read_shared(clip, start, count),
    )


def chunk_frames(fmt: VideoFormat, rgb_used: bool, budget: int = DEFAULT_BUDGET) -> int:
    """How many frame pairs fit ``budget``: both frames, and their float RGB when a metric uses it."""
    pair = 2 * fmt.frame_bytes + (2 * 3 * 4 * fmt.pixels if rgb_used else 0)
    return max(1, budget // pair)


def _check_pair(ref: Clip, dist: Clip) -> None:
    if ref.format != dist.format or ref.frames != dist.frames:
        raise InputFormatError(
            f"cannot compare {dist.name} ({dist.format}, {dist.frames} frames) "
            f"with {ref.name} ({ref.format}, {ref.frames} frames)"
        )


def _values(metric: Metric, ref: Clip, dist: Clip) -> np.ndarray:
    values = np.asarray(metric.evaluate(ref, dist), dtype=np.float64)
    if values.shape != (ref.frames,):
        raise CodecbenchError(f"metric {metric.name} gave {values.shape} values for {ref.frames} frames")
    return values


def evaluate_frame_metrics(
    metrics: Sequence[Metric], ref: Clip, dist: Clip, budget: int = DEFAULT_BUDGET
) -> list[np.ndarray]:
    """Per-frame values of each frame metric, in the order given.

    The ``frame_local`` metrics share each frame pair, read once, in chunks of at most
    ``budget`` bytes; the others get the clips on disk.
    """
    _check_pair(ref, dist)
    local = [i for i, m in enumerate(metrics) if m.frame_local]
    parts: dict[int, list[np.ndarray]] = {i: [] for i in local}
    if local:
        size = chunk_frames(ref.format, any(metrics[i].input == "rgb" for i in local), budget)
        for start in range(0, ref.frames, size):
            count = min(size, ref.frames - start)
            ref_run, dist_run = shared_run(ref, start, count), shared_run(dist, start, count)
            for i in local:
                parts[i].append(_values(metrics[i], ref_run, dist_run))
            del ref_run, dist_run
    return [
        (np.concatenate(parts[i]) if parts[i] else np.zeros(0)) if i in parts else _values(m, ref, dist)
        for i, m in enumerate(metrics)
    ]


class _Reader:
    """Reads successive frames of one file into a reused buffer (each frame valid until the next)."""

    def __init__(self, clip: Clip) -> None:
        fmt = clip.format
        available = frame_count(clip.path, fmt)
        if clip.frames > available:
            raise InputFormatError(
                f"{clip.path}: the clip uses {clip.frames} frames, the file holds {available}"
            )
        self.buffer = np.empty(fmt.samples_per_frame, dtype=fmt.dtype)
        self.frame = Frame(*_planes(self.buffer, fmt))
        self.file = open(clip.path, "rb", buffering=0)  # noqa: SIM115 (closed by close())

    def next(self) -> Frame:
        view = memoryview(self.buffer).cast("B")
        got = 0
        while got < len(view):
            n = self.file.readinto(view[got:])
            if not n:
                raise InputFormatError(f"{self.file.name}: file ended inside a frame")
            got += n
        return self.frame

    def close(self) -> None:
        self.file.close()


def _stream(clip: Clip) -> Iterator[Frame]:
    if isinstance(clip, SharedClip):
        yield from clip.read()
        return
    reader = _Reader(clip)
    try:
        for _ in range(clip.frames):
            yield reader.next()
    finally:
        reader.close()


def frame_pairs(ref: Clip, dist: Clip) -> Iterator[tuple[Frame, Frame]]:
    """The two clips' frames in step, each pair valid only until the next is asked for."""
    _check_pair(ref, dist)
    return zip(_stream(ref), _stream(dist), strict=True)
