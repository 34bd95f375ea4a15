"""Held-out evaluation of the ``mini`` prior on codecbench's ``natural`` clips (never trained on).

PSNR-Y is computed as the harness computes it: the decoded RGB frames are converted to 8-bit
4:2:0 with the harness's own ``rgb_to_yuv`` and compared with the source's luma plane.
"""

from __future__ import annotations

import numpy as np
import torch

from codecbench import Clip, plane_psnr, rgb_to_yuv
from codecbench.datasets import resolve
from codecbench_divinr.encoder import clip_tensor


def natural_clips(frames: int = 16) -> list[Clip]:
    """The embedded ``natural`` dataset's clips (built from sources pinned by SHA-256)."""
    return resolve("natural", frames=frames).clips


def psnr_y(clip: Clip, decoded: torch.Tensor) -> float:
    """Mean per-frame PSNR-Y (dB) of decoded RGB (T, 3, H, W) in [-1, 1] against the clip's source."""
    out = []
    for src, rgb in zip(clip.read(), decoded):
        arr = ((rgb.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).double().numpy()
        out.append(plane_psnr(src.y, rgb_to_yuv(arr, clip.format).y, clip.format.max_value))
    return float(np.mean(out))


@torch.no_grad()
def vae_round_trip(vae: torch.nn.Module, clip: Clip, window: int = 8) -> float:
    """PSNR-Y of a VAE round trip (posterior mode, temporal decoder over ``window`` frames) of a clip."""
    x = clip_tensor(clip)
    out = []
    for s in range(0, x.shape[0], window):
        chunk = x[s : s + window]
        z = vae.encode(chunk).latent_dist.mode()
        out.append(vae.decode(z, num_frames=chunk.shape[0]).sample)
    return psnr_y(clip, torch.cat(out))
