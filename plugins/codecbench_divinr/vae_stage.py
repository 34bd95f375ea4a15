"""Stage 1 of the ``mini`` prior: the SVD-family VAE (``AutoencoderKLTemporalDecoder``), trained alone.

The loss is the pixel MSE of a round trip (frames -> 2D encoder -> posterior mean -> temporal
decoder over the clip's frames) plus a small KL term that keeps the latents near N(0, I), as SVD's
VAE objective does without its perceptual and adversarial terms (their backbones cannot be
downloaded here). The round trip decodes the posterior mean, which is what DiV-INR encodes
(``latent_dist.mode()``): sampling it early in training, while the posterior variance is still
near 1, drowned the latents in noise and stalled a first run at 12-17 dB after 275 steps. After training, the latent scaling factor is set to 1 / std of the latents, as
Stable Diffusion did for its VAE, so the diffusion stage sees unit-variance latents.
"""

from __future__ import annotations

import torch
from diffusers import AutoencoderKLTemporalDecoder
from lightning import LightningModule

from codecbench_divinr.fastconv import fast_temporal_convs
from codecbench_divinr.schedule import warmup_cosine


def psnr(mse: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of a mean squared error measured on [-1, 1] pixels (peak-to-peak 2)."""
    return 10 * torch.log10(4 / mse.clamp_min(1e-10))


class VaeStage(LightningModule):
    """Trains an ``AutoencoderKLTemporalDecoder`` of the given configuration from scratch."""

    def __init__(
        self,
        block_out_channels: tuple[int, ...] = (32, 64, 64, 64),
        latent_channels: int = 8,
        layers_per_block: int = 1,
        kl_weight: float = 1e-6,
        lr: float = 2e-3,
        max_steps: int = 1000,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.vae = AutoencoderKLTemporalDecoder(
                block_out_channels=tuple(block_out_channels),
                down_block_types=("DownEncoderBlock2D",) * len(block_out_channels),
                layers_per_block=layers_per_block,
                latent_channels=latent_channels,
            )
        fast_temporal_convs(self.vae)

    def training_step(self, clips: torch.Tensor, batch_idx: int) -> torch.Tensor:
        b, t = clips.shape[:2]
        x = clips.flatten(0, 1)
        post = self.vae.encode(x).latent_dist
        y = self.vae.decode(post.mode(), num_frames=t).sample
        mse = torch.mean((y - x) ** 2)
        kl = post.kl().mean() / x[0].numel()
        loss = mse + self.hparams.kl_weight * kl
        self.log_dict({"mse": mse.detach(), "psnr": psnr(mse.detach()), "kl": kl.detach()}, prog_bar=True)
        return loss

    def configure_optimizers(self) -> dict:
        return warmup_cosine(self.vae.parameters(), self.hparams.lr, self.hparams.max_steps)

    @torch.no_grad()
    def calibrate(self, clips: torch.Tensor) -> float:
        """Set the VAE's ``scaling_factor`` to 1 / std of the posterior means of ``clips`` (N, 3, H, W)."""
        z = torch.cat([self.vae.encode(c[None]).latent_dist.mode() for c in clips])
        factor = float(1.0 / z.std())
        self.vae.register_to_config(scaling_factor=factor)
        return factor
