"""YUV 4:2:0 frames to padded RGB tensors for a CompressAI model, and reconstructions back.

Colour conversion is codecbench's own (:func:`codecbench.yuv_to_rgb` / :func:`rgb_to_yuv`, BT.709
for HD and BT.601 for SD), so every learned codec in the benchmark sees the same RGB. Padding follows
CompressAI's evaluation tools (``compressai.ops.compute_padding``: zeros, centred), so rates compare
with CompressAI's published numbers.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from compressai.ops import compute_padding

from codecbench import Frame, VideoFormat, rgb_to_yuv, yuv_to_rgb

Padding = tuple[int, int, int, int]


def padded_size(fmt: VideoFormat, multiple: int) -> tuple[int, int]:
    """(width, height) rounded up to ``multiple``, the size the model codes."""
    return -(-fmt.width // multiple) * multiple, -(-fmt.height // multiple) * multiple


def padding(fmt: VideoFormat, multiple: int) -> Padding:
    """(left, right, top, bottom) zero padding that brings ``fmt`` to a multiple of ``multiple``."""
    pad, _ = compute_padding(fmt.height, fmt.width, min_div=multiple)
    return pad


def to_tensor(
    frames: list[Frame], fmt: VideoFormat, matrix: str, pad: Padding, device: torch.device
) -> torch.Tensor:
    """A batch (N, 3, H', W') of RGB in [0, 1], zero-padded by ``pad``."""
    rgb = np.stack([yuv_to_rgb(f, fmt, matrix) for f in frames])
    x = torch.from_numpy(rgb).permute(0, 3, 1, 2).contiguous().to(device)
    return F.pad(x, pad, mode="constant", value=0.0)


def to_frames(x: torch.Tensor, fmt: VideoFormat, matrix: str, pad: Padding) -> list[Frame]:
    """Crop the padding off a batch of reconstructions, clamp to [0, 1] and convert to ``fmt``."""
    left, right, top, bottom = pad
    h, w = x.shape[-2:]
    x = x[..., top : h - bottom, left : w - right].clamp(0.0, 1.0)
    rgb = x.detach().permute(0, 2, 3, 1).float().cpu().numpy()
    return [rgb_to_yuv(img, fmt, matrix) for img in rgb]
