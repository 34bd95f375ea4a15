"""MS-SSIM (Wang, Simoncelli, Bovik 2003) on luma (``ms_ssim_y``) and on RGB (``ms_ssim_rgb``).

The arithmetic is that of ``pytorch-msssim`` (which CompressAI and most learned-codec papers use):
an 11-tap Gaussian window with sigma 1.5 applied separably without padding, K1 = 0.01, K2 = 0.03,
five scales weighted (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), 2x2 average pooling between scales
(zero-padded on odd sizes), negative contrast-structure terms clipped at 0. ``ms_ssim_rgb`` is
the mean of the three channels' MS-SSIM. The tests check agreement with ``pytorch-msssim``.

The sequence value is the mean of per-frame values. Frames smaller than 161 pixels on a side do
not fit (the coarsest scale would be smaller than the window).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from codecbench.metrics.base import Metric
from codecbench.metrics.nets import NET_OPTIONS, auto_batch, batches, best_device, check_pair, rgb_tensor
from codecbench.video import Clip, Frame, VideoFormat

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03


def gaussian_window(
    size: int = WINDOW, sigma: float = SIGMA, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """Normalised 1-D Gaussian of ``size`` taps."""
    coords = torch.arange(size, dtype=dtype) - size // 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def _blur(x: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filtering of every channel of ``x`` (BxCxHxW).

    Written as weighted sums of shifted views: several times faster on CPU than a depthwise
    ``conv2d``, with the same result.
    """
    taps = [float(w) for w in win]
    n = len(taps)
    width = x.shape[-1] - n + 1
    rows = x[..., :width] * taps[0]
    for k in range(1, n):
        rows.add_(x[..., k : k + width], alpha=taps[k])
    height = x.shape[-2] - n + 1
    out = rows[..., :height, :] * taps[0]
    for k in range(1, n):
        out.add_(rows[..., k : k + height, :], alpha=taps[k])
    return out


def _ssim_cs(x: torch.Tensor, y: torch.Tensor, win: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean SSIM and contrast-structure terms (BxC) of pictures in [0, 1]."""
    c = x.shape[1]
    stats = _blur(torch.cat([x, y, x * x, y * y, x * y], dim=1), win)
    mu1, mu2, xx, yy, xy = stats.split(c, dim=1)
    c1, c2 = K1**2, K2**2
    mu11, mu22, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    cs = (2 * (xy - mu12) + c2) / ((xx - mu11) + (yy - mu22) + c2)
    ssim = (2 * mu12 + c1) / (mu11 + mu22 + c1) * cs
    return ssim.flatten(2).mean(-1), cs.flatten(2).mean(-1)


def ms_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """MS-SSIM of each picture of two batches (BxCxHxW, values in [0, 1]); returns B values.

    Channels are scored separately and averaged.
    """
    if min(x.shape[-2:]) <= (WINDOW - 1) * 2 ** (len(WEIGHTS) - 1):
        raise ValueError(f"MS-SSIM needs pictures larger than 160x160, got {tuple(x.shape[-2:])}")
    win = gaussian_window(dtype=x.dtype).to(x.device)
    weights = torch.tensor(WEIGHTS, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    terms = []
    for level in range(len(WEIGHTS)):
        ssim, cs = _ssim_cs(x, y, win)
        if level < len(WEIGHTS) - 1:
            terms.append(torch.relu(cs))
            pad = [s % 2 for s in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=pad)
            y = F.avg_pool2d(y, kernel_size=2, padding=pad)
    terms.append(torch.relu(ssim))
    return torch.prod(torch.stack(terms) ** weights, dim=0).mean(dim=1)


class _MSSSIM(Metric):
    """Streams both clips in batches of frames and scores each pair."""

    unit = ""
    min_size = (161, 161)
    options_spec = NET_OPTIONS

    def fits(self, fmt: VideoFormat) -> bool:
        return fmt.width > 160 and fmt.height > 160

    def _tensor(self, frames: list[Frame], fmt: VideoFormat) -> torch.Tensor:
        raise NotImplementedError

    def evaluate(self, ref: Clip, dist: Clip) -> np.ndarray:
        device = best_device(self.options["device"])
        fmt = ref.format
        size = auto_batch(fmt, self.options["batch_size"], pixels_per_batch=1 << 23)
        check_pair(ref, dist)
        out: list[np.ndarray] = []
        with torch.inference_mode():
            for rb, db in zip(batches(ref.read(), size), batches(dist.read(), size), strict=True):
                x = self._tensor(rb, fmt).to(device)
                y = self._tensor(db, fmt).to(device)
                out.append(ms_ssim(x, y).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)


class MSSSIMY(_MSSSIM):
    name = "ms_ssim_y"
    display_name = "MS-SSIM-Y"
    description = "MS-SSIM of the luma plane, mean over frames"

    def _tensor(self, frames: list[Frame], fmt: VideoFormat) -> torch.Tensor:
        y = np.stack([f.y for f in frames]).astype(np.float32) / np.float32(fmt.max_value)
        return torch.from_numpy(y).unsqueeze(1)


class MSSSIMRGB(_MSSSIM):
    name = "ms_ssim_rgb"
    display_name = "MS-SSIM-RGB"
    description = "MS-SSIM of R, G and B (mean of the three), mean over frames"
    input = "rgb"

    def _tensor(self, frames: list[Frame], fmt: VideoFormat) -> torch.Tensor:
        return rgb_tensor(frames, fmt)
