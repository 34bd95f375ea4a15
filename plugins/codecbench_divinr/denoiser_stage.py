"""Stage 2 of the ``mini`` prior: the spatio-temporal UNet, trained as an SVD-style denoiser.

It learns on the stage-1 VAE's latents of the training clips, with SVD's EDM noise distribution and
v-prediction preconditioning (:func:`codecbench_divinr.module.edm_denoise`, the same function the
codec uses), conditioned by channel concatenation exactly where DiV-INR puts its INR output. The
conditioning during pre-training is a *coarse estimate* of the target latents, standing in for an
INR fit at low rate: the latents average-pooled by a random factor (2, 4 or 8) and up-sampled back,
plus Gaussian noise of a random strength (as SVD noise-augments its conditioning frame). The
denoiser thus learns to refine a coarse estimate into a sharp clip.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
from lightning import LightningModule

from codecbench_divinr.fastconv import fast_temporal_convs
from codecbench_divinr.module import P_MEAN, P_STD, edm_denoise
from codecbench_divinr.schedule import warmup_cosine


def coarse_estimate(latents: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """A blurred, noisy stand-in for an INR's output: (B, T, C, h, w) -> same shape.

    Each clip gets its own pooling factor (2, 4 or 8) and noise strength (0 to 0.3 of the latent std).
    """
    b, t, c, h, w = latents.shape
    out = []
    for k in range(b):
        f = [2, 4, 8][int(torch.randint(0, 3, (1,), generator=gen))]
        x = latents[k]
        small = F.avg_pool2d(x, f, ceil_mode=True)
        x = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
        strength = 0.3 * float(torch.rand(1, generator=gen)) * float(latents[k].std())
        out.append(x + strength * torch.randn(x.shape, generator=gen).to(x))
    return torch.stack(out)


class DenoiserStage(LightningModule):
    """Trains a ``UNetSpatioTemporalConditionModel`` on the latents of a frozen, trained VAE."""

    def __init__(
        self,
        vae: str = "",
        block_out_channels: tuple[int, ...] = (32, 64, 64),
        layers_per_block: int = 1,
        cross_attention_dim: int = 64,
        num_attention_heads: tuple[int, ...] = (2, 4, 4),
        addition_time_embed_dim: int = 16,
        num_frames: int = 8,
        fps: float = 24.0,
        motion_bucket_id: int = 127,
        lr: float = 1e-3,
        max_steps: int = 1000,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.vae = AutoencoderKLTemporalDecoder.from_pretrained(Path(vae)) if vae else None
        if self.vae is not None:
            self.vae.requires_grad_(False).eval()
        latent = self.vae.config.latent_channels if self.vae is not None else 4
        n = len(block_out_channels)
        down = ("DownBlockSpatioTemporal",) + ("CrossAttnDownBlockSpatioTemporal",) * (n - 1)
        up = ("CrossAttnUpBlockSpatioTemporal",) * (n - 1) + ("UpBlockSpatioTemporal",)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.unet = UNetSpatioTemporalConditionModel(
                sample_size=None,
                in_channels=2 * latent,
                out_channels=latent,
                down_block_types=down,
                up_block_types=up,
                block_out_channels=tuple(block_out_channels),
                addition_time_embed_dim=addition_time_embed_dim,
                projection_class_embeddings_input_dim=3 * addition_time_embed_dim,
                layers_per_block=layers_per_block,
                cross_attention_dim=cross_attention_dim,
                num_attention_heads=tuple(num_attention_heads),
                num_frames=num_frames,
            )
        fast_temporal_convs(self.unet)
        if self.vae is not None:
            fast_temporal_convs(self.vae)
        self.register_buffer("context", torch.zeros(1, 1, cross_attention_dim), persistent=False)

    @property
    def scaling_factor(self) -> float:
        return float(self.vae.config.scaling_factor) if self.vae is not None else 1.0

    @torch.no_grad()
    def latents(self, clips: torch.Tensor) -> torch.Tensor:
        """Scaled VAE latents (B, T, C, h, w) of clips (B, T, 3, H, W) in [-1, 1] (posterior mode)."""
        b, t = clips.shape[:2]
        z = self.vae.encode(clips.flatten(0, 1)).latent_dist.mode() * self.scaling_factor
        return z.view(b, t, *z.shape[1:])

    def added_time_ids(self, batch: int, noise_aug: torch.Tensor) -> torch.Tensor:
        """SVD's micro-conditioning (fps - 1, motion bucket, noise augmentation strength)."""
        h = self.hparams
        base = torch.tensor([h.fps - 1.0, float(h.motion_bucket_id)], device=self.device).repeat(batch, 1)
        return torch.cat([base, noise_aug.view(batch, 1).to(base)], dim=1)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        x0 = batch if batch.dim() == 5 and batch.shape[2] != 3 else self.latents(batch)
        cond = coarse_estimate(x0)
        sigma = (torch.randn(x0.shape[0], device=x0.device) * P_STD + P_MEAN).exp()
        noisy = x0 + sigma.view(-1, 1, 1, 1, 1) * torch.randn_like(x0)
        ids = self.added_time_ids(x0.shape[0], torch.zeros(x0.shape[0]))
        ctx = self.context.expand(x0.shape[0], -1, -1)
        pred = edm_denoise(self.unet, noisy, sigma, cond, ctx, ids)
        weight = ((sigma**2 + 1) / sigma**2).view(-1, 1, 1, 1, 1)
        loss = (weight * (pred - x0) ** 2).mean()
        cond_mse = F.mse_loss(cond, x0).detach()
        self.log_dict({"loss": loss.detach(), "cond_mse": cond_mse}, prog_bar=True)
        return loss

    def configure_optimizers(self) -> dict:
        return warmup_cosine(self.unet.parameters(), self.hparams.lr, self.hparams.max_steps)
