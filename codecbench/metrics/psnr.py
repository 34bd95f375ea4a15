"""PSNR on luma (``psnr_y``), on Y, U and V weighted 6:1:1 (``psnr_yuv``) and on RGB (``psnr_rgb``).

How a sequence value is formed: the **mean of per-frame PSNR values** (the JVET common test
conditions practice, and what HM/VTM print as the sequence "Y-PSNR"). It is not ffmpeg's summary
line, which takes the PSNR of the mean MSE over frames; the per-frame values agree with ffmpeg's
``psnr`` filter ``stats_file`` to well under 0.01 dB (see tests/test_metrics_psnr.py). A frame that
is identical to its reference scores :data:`PSNR_CAP_DB` instead of infinity, so means stay finite.

The peak is the format's maximum sample value (255 for 8-bit, 1023 for 10-bit), as in ffmpeg and HM.
"""

from __future__ import annotations

import numpy as np

from codecbench.metrics.base import Metric
from codecbench.video import Frame, VideoFormat
from codecbench.yuv import yuv_to_rgb

#: Per-frame PSNR of identical planes is capped here instead of being infinite.
PSNR_CAP_DB = 100.0

#: Weights of the Y, U and V PSNR in PSNR-YUV (JVET's 6:1:1, e.g. JVET-Q2017).
YUV_WEIGHTS = (6.0, 1.0, 1.0)


def _mse(ref: np.ndarray, dist: np.ndarray) -> float:
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
    return np.rint(yuv_to_rgb(frame, fmt).astype(np.float64) * fmt.max_value)


class PSNRY(Metric):
    name = "psnr_y"
    display_name = "PSNR-Y"
    description = "PSNR of the luma plane in dB, mean over frames"
    unit = "dB"

    def frame_score(self, ref: Frame, dist: Frame, fmt: VideoFormat) -> float:
        return plane_psnr(ref.y, dist.y, fmt.max_value)


class PSNRYUV(Metric):
    name = "psnr_yuv"
    display_name = "PSNR-YUV"
    description = "(6 PSNR-Y + PSNR-U + PSNR-V) / 8 per frame in dB, mean over frames"
    unit = "dB"

    def frame_score(self, ref: Frame, dist: Frame, fmt: VideoFormat) -> float:
        values = [plane_psnr(r, d, fmt.max_value) for r, d in zip(ref.planes, dist.planes, strict=True)]
        return float(np.dot(YUV_WEIGHTS, values) / sum(YUV_WEIGHTS))


class PSNRRGB(Metric):
    name = "psnr_rgb"
    display_name = "PSNR-RGB"
    description = "PSNR over the R, G and B samples (one MSE over all three) in dB, mean over frames"
    unit = "dB"
    input = "rgb"

    def frame_score(self, ref: Frame, dist: Frame, fmt: VideoFormat) -> float:
        return mse_to_psnr(_mse(quantized_rgb(ref, fmt), quantized_rgb(dist, fmt)), fmt.max_value)
