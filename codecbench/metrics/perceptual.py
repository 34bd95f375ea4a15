"""Learned full-reference distances per frame: LPIPS (AlexNet, VGG) and DISTS. Lower is better.

- ``lpips_alex`` / ``lpips_vgg``: LPIPS v0.1 (Zhang et al. 2018) from the ``lpips`` package, on
  the whole frame converted to RGB (the package's own practice: the spatial average of the
  per-pixel distance map). AlexNet/VGG-16 backbones come from the torch hub cache, the linear
  layers ship with the package.
- ``dists``: DISTS (Ding et al. 2020) from ``piq``, which, like the authors' code, first resizes a
  frame whose shorter side exceeds 256 so that it is 256. VGG-16 and the alpha/beta weights come
  from the torch hub cache.

Frames are streamed in batches; the sequence value is the mean of per-frame values. These are
frame metrics, computed on whole frames; FID and KID (:mod:`codecbench.metrics.fid`) are the ones
computed on 256x256 patches over a dataset.
"""

from __future__ import annotations

import numpy as np
import torch

from codecbench.metrics.nets import NetMetric, auto_batch, batches, check_pair, rgb_tensor
from codecbench.video import Clip


class _FrameNetMetric(NetMetric):
    """Scores batches of RGB frames in [0, 1] with :meth:`score`."""

    higher_is_better = False
    input = "rgb"
    min_size = (64, 64)
    frame_local = True

    def score(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def evaluate(self, ref: Clip, dist: Clip) -> np.ndarray:
        fmt = ref.format
        self.check_size(fmt)
        size = auto_batch(fmt, self.options["batch_size"])
        check_pair(ref, dist)
        out: list[np.ndarray] = []
        with torch.inference_mode():
            for rb, db in zip(batches(ref.read(), size), batches(dist.read(), size), strict=True):
                x = rgb_tensor(rb, fmt).to(self.device)
                y = rgb_tensor(db, fmt).to(self.device)
                out.append(self.score(x, y).reshape(-1).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)


class _LPIPS(_FrameNetMetric):
    value_range = (0.0, 2.0)
    backbone = "alex"

    def build(self) -> torch.nn.Module:
        import lpips

        return lpips.LPIPS(net=self.backbone, version="0.1", verbose=False)

    def score(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net()(x, y, normalize=True)


class LPIPSAlex(_LPIPS):
    name = "lpips_alex"
    display_name = "LPIPS (AlexNet)"
    display_order = 50
    description = "LPIPS v0.1 with AlexNet on RGB frames, mean over frames (lower is better)"


class LPIPSVGG(_LPIPS):
    name = "lpips_vgg"
    display_name = "LPIPS (VGG)"
    display_order = 60
    description = "LPIPS v0.1 with VGG-16 on RGB frames, mean over frames (lower is better)"
    backbone = "vgg"


class DISTS(_FrameNetMetric):
    name = "dists"
    display_name = "DISTS"
    display_order = 70
    value_range = (0.0, 1.0)
    description = "DISTS on RGB frames (shorter side resized to 256), mean over frames (lower is better)"

    def build(self) -> torch.nn.Module:
        from piq import DISTS as PiqDISTS

        return PiqDISTS(reduction="none")

    def score(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net()(y, x)
