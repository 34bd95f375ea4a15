"""PSNR on luma (``psnr_y``), on Y, U and V weighted 6:1:1 (``psnr_yuv``) and on RGB (``psnr_rgb``).

How a sequence value is formed: the **mean of per-frame PSNR values** (the JVET common test
conditions practice, and what HM/VTM print as the sequence "Y-PSNR"). It is not ffmpeg's summary
line, which takes the PSNR of the mean MSE over frames; the per-frame values agree with ffmpeg's
``psnr`` filter ``stats_file`` to well under 0.01 dB (see tests/test_metrics_classic.py). A frame that
is identical to its reference scores :data:`PSNR_CAP_DB` instead of infinity, so means stay finite.

The peak is the format's maximum sample value (255 for 8-bit, 1023 for 10-bit), as in ffmpeg and HM.
"""

from __future__ import annotations

import numpy as np

from codecbench.metrics import frames
from codecbench.metrics.base import Metric
from codecbench.video import Clip, Frame, VideoFormat

#: Per-frame PSNR of identical planes is capped here instead of being infinite.
PSNR_CAP_DB = 100.0

#: Weights of the Y, U and V PSNR in PSNR-YUV (JVET's 6:1:1, e.g. JVET-Q2017).
YUV_WEIGHTS = (6.0, 1.0, 1.0)


#: Samples per step of the exact sum of squares (temporaries stay in cache).
_CHUNK = 1 << 16


def _sse(ref: np.ndarray, dist: np.ndarray) -> int:
    """Exact sum of squared differences of two integer arrays of at most 16 bits.

    Differences are squared and summed as float64 whole numbers, exact in any order within a
    chunk, and the chunks are added as Python integers, so no sum is ever rounded.
    """
    a, b = ref.ravel(), dist.ravel()
    wide = np.int16 if a.dtype == np.uint8 and b.dtype == np.uint8 else np.int32
    diff = np.empty(min(a.size, _CHUNK), dtype=wide)
    squares = np.empty(diff.size, dtype=np.float64)
    total = 0
    for start in range(0, a.size, _CHUNK):
        n = min(_CHUNK, a.size - start)
        np.subtract(a[start : start + n], b[start : start + n], out=diff[:n], dtype=wide)
        d = squares[:n]
        d[...] = diff[:n]
        total += int(np.dot(d, d))
    return total


def _mse(ref: np.ndarray, dist: np.ndarray) -> float:
    """Mean squared difference of two planes.

    Integer planes take the exact sum (:func:`_sse`): the same float64 value as the mean of
    the float64 squared differences (whose partial sums are whole numbers below 2**53, hence
    exact), several times faster.
    """
    if ref.shape != dist.shape:
        raise ValueError(f"planes of different shapes: {ref.shape} and {dist.shape}")
    if ref.size and all(p.dtype.kind in "ui" and p.dtype.itemsize <= 2 for p in (ref, dist)):
        return _sse(ref, dist) / ref.size
    diff = ref.astype(np.float64) - dist.astype(np.float64)
    return float(np.mean(diff * diff))


def mse_to_psnr(mse: float, max_value: float) -> float:
    """PSNR in dB of a mean squared error for the peak ``max_value``, capped at :data:`PSNR_CAP_DB`."""
    if mse == 0.0:
        return PSNR_CAP_DB
    return float(min(PSNR_CAP_DB, 10.0 * np.log10(max_value * max_value / mse)))


def plane_psnr(ref: np.ndarray, dist: np.ndarray, max_value: int) -> float:
    """PSNR in dB of one plane against its reference, capped at :data:`PSNR_CAP_DB`."""
    return mse_to_psnr(_mse(ref, dist), max_value)


def quantized_rgb(frame: Frame, fmt: VideoFormat) -> np.ndarray:
    """The frame as RGB integers at the format's bit depth (HxWx3 float64 holding whole numbers).

    Converted with :func:`codecbench.yuv.yuv_to_rgb` (the format's matrix, limited range) and
    rounded, as a picture written to an RGB file of that bit depth would be.
    """
    return np.rint(frames.rgb(frame, fmt).astype(np.float64) * fmt.max_value)


class _PSNR(Metric):
    """Scores frame pairs one at a time, streamed through reused buffers or shared by the job."""

    frame_local = True
    value_range = (0.0, 200.0)

    def evaluate(self, ref: Clip, dist: Clip) -> np.ndarray:
        fmt = ref.format
        scores = [self.frame_score(r, d, fmt) for r, d in frames.frame_pairs(ref, dist)]
        return np.asarray(scores, dtype=np.float64)


class PSNRY(_PSNR):
    name = "psnr_y"
    display_name = "PSNR-Y"
    display_order = 10
    description = "PSNR of the luma plane in dB, mean over frames"
    unit = "dB"

    def frame_score(self, ref: Frame, dist: Frame, fmt: VideoFormat) -> float:
        return plane_psnr(ref.y, dist.y, fmt.max_value)


class PSNRYUV(_PSNR):
    name = "psnr_yuv"
    display_name = "PSNR-YUV"
    display_order = 20
    description = "(6 PSNR-Y + PSNR-U + PSNR-V) / 8 per frame in dB, mean over frames"
    unit = "dB"

    def frame_score(self, ref: Frame, dist: Frame, fmt: VideoFormat) -> float:
        values = [plane_psnr(r, d, fmt.max_value) for r, d in zip(ref.planes, dist.planes, strict=True)]
        return float(np.dot(YUV_WEIGHTS, values) / sum(YUV_WEIGHTS))


class PSNRRGB(_PSNR):
    name = "psnr_rgb"
    display_name = "PSNR-RGB"
    description = "PSNR over the R, G and B samples (one MSE over all three) in dB, mean over frames"
    unit = "dB"
    input = "rgb"

    def frame_score(self, ref: Frame, dist: Frame, fmt: VideoFormat) -> float:
        return mse_to_psnr(_mse(quantized_rgb(ref, fmt), quantized_rgb(dist, fmt)), fmt.max_value)
