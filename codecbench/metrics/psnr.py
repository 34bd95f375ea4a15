"""PSNR on the luma plane, the mean of per-frame values (the JVET practice)."""

from __future__ import annotations

import numpy as np

from codecbench.metrics.base import Metric
from codecbench.video import Frame, VideoFormat

#: Per-frame PSNR of identical planes is capped here instead of being infinite.
PSNR_CAP_DB = 100.0


def plane_psnr(ref: np.ndarray, dist: np.ndarray, max_value: int) -> float:
    """PSNR in dB of one plane against its reference, capped at :data:`PSNR_CAP_DB`."""
    diff = ref.astype(np.float64) - dist.astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return PSNR_CAP_DB
    return min(PSNR_CAP_DB, 10.0 * np.log10(max_value * max_value / mse))


class PSNRY(Metric):
    name = "psnr_y"
    description = "PSNR of the luma plane in dB, mean over frames"
    unit = "dB"

    def frame_score(self, ref: Frame, dist: Frame, fmt: VideoFormat) -> float:
        return plane_psnr(ref.y, dist.y, fmt.max_value)
