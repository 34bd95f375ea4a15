"""Stage 3 of the ``mini`` prior: the shared LoRA adapters and context, learned with per-clip INRs.

The shared parts must learn from the conditioning that a per-video encode will give them: an INR
fitted to one clip. So this stage keeps a bank of INRs, one per training clip, and trains them
jointly with the shared adapters and context on the codec's own loss (EDM denoising given the
INR's output, plus the INR-vs-latent regression). The bank is discarded afterwards; the adapters
and context are saved with :meth:`DivInrModule.save_shared` for ``divinr.shared`` (and for
``mini``, shipped as its default shared folder).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from lightning import LightningModule
from torch import nn

from codecbench_divinr import lora
from codecbench_divinr.config import DivInrConfig, InrSize
from codecbench_divinr.fastconv import fast_temporal_convs
from codecbench_divinr.inr import NervInr, frame_times
from codecbench_divinr.module import DivInrModule
from codecbench_divinr.schedule import warmup_cosine


class SharedStage(LightningModule):
    """Trains shared LoRA + context of ``backbone`` with a bank of ``clips`` per-clip INRs."""

    def __init__(
        self,
        backbone: str = "",
        clips: int = 16,
        frames: int = 8,
        size: int = 128,
        inr_stem: int = 16,
        inr_channels: tuple[int, ...] = (12, 10, 8, 6),
        lora_rank: int = 4,
        regression_weight: float = 1.0,
        lr: float = 1e-3,
        inr_lr: float = 5e-3,
        max_steps: int = 400,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        inr = InrSize(freqs=8, stem=inr_stem, channels=tuple(inr_channels))
        cfg = DivInrConfig(backbone=backbone, inr=inr, lora_rank=lora_rank, window=frames, seed=seed)
        hw = (size // 8, size // 8)
        self.core = DivInrModule(cfg, hw, frames * size * size, mode="pretrain", fallback=False)
        fast_temporal_convs(self.core.unet)
        self.core.inr.requires_grad_(False)  # the bank replaces it
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.bank = nn.ModuleList(NervInr(inr, self.core.inr.head.out_channels, hw) for _ in range(clips))
        self.register_buffer("t", frame_times(frames), persistent=False)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        frames = batch["frames"]
        with torch.no_grad():
            lat = self.core.encode_frames(frames.flatten(0, 1)).view(
                *frames.shape[:2], -1, *self.bank[0].latent_hw
            )
        cond = torch.stack([self.bank[int(k)](self.t) for k in batch["clip"]])
        diffusion = self.core.diffusion_loss(lat * self.core.scaling_factor, cond)
        regression = F.mse_loss(cond, lat)
        loss = diffusion + self.hparams.regression_weight * regression
        self.log_dict({"diffusion": diffusion.detach(), "regression": regression.detach()}, prog_bar=True)
        return loss

    def configure_optimizers(self) -> dict:
        groups = [
            {"params": [*lora.lora_parameters(self.core.unet), self.core.context], "lr": self.hparams.lr},
            {"params": list(self.bank.parameters()), "lr": self.hparams.inr_lr},
        ]
        return warmup_cosine(groups, self.hparams.lr, self.hparams.max_steps)

    def save(self, folder: Path | str) -> Path:
        """Write the shared adapters and context (the bank stays behind)."""
        return self.core.save_shared(folder)
