"""The NeRV-family implicit neural representation that replaces the intra-coded keyframe.

frame time t in [0, 1] -> sinusoidal positional encoding -> MLP stem -> a small feature grid ->
conv + PixelShuffle(2) up-sampling blocks -> per-frame latent features at the VAE latent size.
Its output enters the UNet where SVD's keyframe latent enters: concatenated on the channel axis.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from codecbench_divinr.config import InrSize


class PositionalEncoding(nn.Module):
    """NeRV's encoding of a scalar time: sin/cos at frequencies 1.25**k * pi, k < ``freqs``."""

    def __init__(self, freqs: int) -> None:
        super().__init__()
        self.register_buffer("bands", (1.25 ** torch.arange(freqs, dtype=torch.float32)) * math.pi, False)

    @property
    def dim(self) -> int:
        return 2 * self.bands.numel()

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        x = t.float()[:, None] * self.bands[None]
        return torch.cat([torch.sin(x), torch.cos(x)], dim=1)


class UpBlock(nn.Module):
    """3x3 convolution to ``4 * out`` channels, PixelShuffle(2), GELU (NeRV block)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout * 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)))


class NervInr(nn.Module):
    """Maps frame times to conditioning latents of shape (N, latent_channels, height, width)."""

    def __init__(self, size: InrSize, latent_channels: int, latent_hw: tuple[int, int]) -> None:
        super().__init__()
        self.size = size
        self.latent_hw = (int(latent_hw[0]), int(latent_hw[1]))
        ups = len(size.channels) - 1
        self.grid = tuple(math.ceil(d / 2**ups) for d in self.latent_hw)
        self.pe = PositionalEncoding(size.freqs)
        c0 = size.channels[0]
        self.stem = nn.Sequential(
            nn.Linear(self.pe.dim, size.stem),
            nn.GELU(),
            nn.Linear(size.stem, c0 * self.grid[0] * self.grid[1]),
            nn.GELU(),
        )
        self.blocks = nn.Sequential(*[UpBlock(a, b) for a, b in zip(size.channels[:-1], size.channels[1:])])
        self.head = nn.Conv2d(size.channels[-1], latent_channels, 1)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.pe(t)).view(-1, self.size.channels[0], *self.grid)
        x = self.head(self.blocks(x))
        return x[:, :, : self.latent_hw[0], : self.latent_hw[1]]


def frame_times(frames: int, device: torch.device | None = None) -> torch.Tensor:
    """Normalised times of ``frames`` frames spanning the whole clip: 0 .. 1."""
    return torch.arange(frames, dtype=torch.float32, device=device) / max(frames - 1, 1)
