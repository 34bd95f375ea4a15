"""CPU speed helper: SVD's temporal ``Conv3d`` layers run as 2D convolutions (training, encode, decode)."""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F


def _temporal_conv(self: torch.nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    b, c, t, h, w = x.shape
    y = F.conv2d(x.reshape(b, c, t, h * w), self.weight.squeeze(-1), self.bias, padding=(self.padding[0], 0))
    return y.reshape(b, y.shape[1], y.shape[2], h, w)


def fast_temporal_convs(model: torch.nn.Module) -> int:
    """Run ``model``'s (k, 1, 1) ``Conv3d`` layers (SVD's temporal convolutions) as ``conv2d`` over
    (T, H*W): the same function and parameters, but oneDNN's fast 2D kernels instead of PyTorch's
    slow 3D CPU path, whose backward took most of a training step (and a third of a VAE decode).
    On a CPU the codec's encode and decode both use it, so every CPU decode runs the same kernels.
    Returns how many layers were switched."""
    n = 0
    for m in model.modules():
        if (
            isinstance(m, torch.nn.Conv3d)
            and tuple(m.kernel_size[1:]) == (1, 1)
            and tuple(m.stride) == (1, 1, 1)
            and tuple(m.dilation) == (1, 1, 1)
            and m.groups == 1
            and m.padding_mode == "zeros"
            and tuple(m.padding[1:]) == (0, 0)
        ):
            m.forward = types.MethodType(_temporal_conv, m)
            n += 1
    return n
