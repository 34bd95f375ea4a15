"""Shared plumbing of the network metrics: device choice, frame batches as tensors, 256x256 patches.

Frames are streamed: a batch holds at most ``batch_size`` frames (or patches), never a sequence.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator

import numpy as np
import torch

from codecbench import weights
from codecbench.device import choose_device
from codecbench.errors import CodecbenchError, InputFormatError, UnsupportedInputError
from codecbench.metrics.base import Metric
from codecbench.metrics.frames import rgb as shared_rgb
from codecbench.options import Option
from codecbench.requirements import Requirement
from codecbench.video import Clip, Frame, VideoFormat

#: Options every network metric takes.
NET_OPTIONS = {
    "device": Option("auto", "torch device: auto (CUDA when present, else CPU), cpu, cuda, cuda:1, ..."),
    "batch_size": Option(0, "frames (or patches) per forward pass; 0 picks one from the frame size", int),
}

#: Side of the square patches FID and KID are computed on (HiFiC's practice).
PATCH = 256


def rgb_tensor(frames: list[Frame], fmt: VideoFormat) -> torch.Tensor:
    """A batch of frames as full-range RGB, float32 Bx3xHxW in [0, 1] (on the CPU)."""
    return torch.from_numpy(np.stack([shared_rgb(f, fmt) for f in frames])).permute(0, 3, 1, 2).contiguous()


def check_pair(ref: Clip, dist: Clip) -> None:
    """Raise :class:`InputFormatError` unless ``dist`` has ``ref``'s format and frame count."""
    if ref.format != dist.format or ref.frames != dist.frames:
        raise InputFormatError(
            f"cannot compare {dist.name} ({dist.format}, {dist.frames} frames) "
            f"with {ref.name} ({ref.format}, {ref.frames} frames)"
        )


def batches(frames: Iterable[Frame], size: int) -> Iterator[list[Frame]]:
    """Group a frame stream into lists of at most ``size`` frames."""
    if size < 1:
        raise CodecbenchError(f"batch_size must be at least 1, got {size}")
    batch: list[Frame] = []
    for f in frames:
        batch.append(f)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def patch_origins(height: int, width: int, size: int = PATCH, shifted: bool = True) -> list[tuple[int, int]]:
    """Top-left corners of the 256x256 patches of a frame (HiFiC's FID/KID patches).

    A grid of non-overlapping patches from the top-left corner, plus, when ``shifted``, the same
    grid offset by half a patch in both directions (the partial patches at the borders are dropped).
    """
    origins = [(y, x) for y in range(0, height - size + 1, size) for x in range(0, width - size + 1, size)]
    if shifted:
        half = size // 2
        origins += [
            (y, x) for y in range(half, height - size + 1, size) for x in range(half, width - size + 1, size)
        ]
    return origins


def extract_patches(images: torch.Tensor, origins: list[tuple[int, int]], size: int = PATCH) -> torch.Tensor:
    """Cut the patches at ``origins`` out of a batch of images: (B*len(origins))xCxsizexsize."""
    return torch.stack([img[:, y : y + size, x : x + size] for img in images for y, x in origins])


def auto_batch(fmt: VideoFormat, asked: int, pixels_per_batch: int = 1 << 21, cap: int = 16) -> int:
    """``asked`` when positive, else as many frames as fit in about ``pixels_per_batch`` pixels."""
    return asked if asked > 0 else max(1, min(cap, pixels_per_batch // fmt.pixels))


_NETWORKS: dict[tuple, torch.nn.Module] = {}


class NetMetric(Metric):
    """A metric computed by a pretrained network: weights checked first, network built once.

    Subclasses implement :meth:`build` (return the module in eval mode, loading only the files
    listed in :mod:`codecbench.weights`). :meth:`net` refuses to build with any file missing, so
    no library ever gets the chance to download or to fall back on random weights.
    """

    options_spec = NET_OPTIONS
    #: Metrics that run the same network share it (FID and KID); None: the metric's name.
    network_id: str | None = None

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        self._module: torch.nn.Module | None = None
        self._device: torch.device | None = None

    def requirements(self) -> list[Requirement]:
        return weights.requirements_for(self.name)

    @property
    def device(self) -> torch.device:
        if self._device is None:
            self._device = choose_device(self.options["device"], self.name, require=True)
        return self._device

    def build(self) -> torch.nn.Module:
        raise NotImplementedError

    def net(self) -> torch.nn.Module:
        """The network on :attr:`device`, built on first use from the cached weight files.

        Built networks are kept for the life of the process and shared by every instance (the
        runner makes one metric per job), keyed by :attr:`network_id`, device and the weight
        files' paths and modification times.
        """
        if self._module is None:
            weights.require(self.name)
            files = [weights.WEIGHTS[n].path for n in weights.METRIC_WEIGHTS.get(self.name, ())]
            key = (
                self.network_id or self.name,
                str(self.device),
                *((str(f), f.stat().st_mtime_ns) for f in files),
            )
            if key not in _NETWORKS:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # torchvision's "pretrained is deprecated"
                    module = self.build()
                _NETWORKS[key] = module.eval().requires_grad_(False).to(self.device)
            self._module = _NETWORKS[key]
        return self._module

    def check_size(self, fmt: VideoFormat) -> None:
        if not self.fits(fmt):
            w, h = self.min_size
            raise UnsupportedInputError(f"{self.name} needs frames of at least {w}x{h}, got {fmt}")
