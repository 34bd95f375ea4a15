"""The science of DiV-INR as a LightningModule: INR + LoRA-adapted video diffusion + rate.

Loss of one batch of windows (frames of one clip, or training septuplets)::

    L = E_sigma[ w(sigma) * || D(x0 + sigma*n; sigma, INR(t)) - x0 ||^2 ]   (EDM / SVD denoising loss)
      + regression_weight * || INR(t) - E(frames) ||^2                      (INR vs. true VAE latents)
      + lam * bits(quantised INR [+ per-video LoRA]) / pixels               (rate, bits per pixel)

``x0`` are the VAE latents times the scaling factor, ``D`` the v-prediction UNet with SVD's
preconditioning, and ``INR(t)`` enters the UNet by channel concatenation where SVD's keyframe
latent enters. The same module serves the per-video encode (``mode="encode"``: only the INR,
and LoRA when ``adapters="per_video"``, are trained) and the shared pre-training
(``mode="pretrain"``: INR initialisation, shared LoRA and the context embedding are trained).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from lightning import LightningModule
from safetensors.torch import load_file, save_file
from torch import nn

from codecbench_divinr import lora, quant
from codecbench_divinr.backbone import get_backbone
from codecbench_divinr.config import DivInrConfig
from codecbench_divinr.inr import NervInr

#: SVD's training distribution of noise levels: log(sigma) ~ N(P_MEAN, P_STD).
P_MEAN, P_STD = 0.7, 1.6
SHARED_FILES = ("adapters.safetensors", "context.safetensors")
#: Frame rates of SVD's fps micro-conditioning (its training clips ran at 3-30 fps).
FPS_RANGE = (3.0, 30.0)


def edm_denoise(
    unet: nn.Module,
    noisy: torch.Tensor,
    sigma: torch.Tensor,
    cond: torch.Tensor,
    context: torch.Tensor,
    added_time_ids: torch.Tensor,
) -> torch.Tensor:
    """SVD's preconditioned v-prediction denoiser D(x; sigma, cond) for (B, T, C, h, w) latents.

    ``cond`` enters by channel concatenation (where SVD's keyframe latent enters); shared by the
    codec and the ``mini`` prior's pre-training so both train the same function.
    """
    s = sigma.view(-1, 1, 1, 1, 1)
    c_in, c_skip, c_out = 1 / (s**2 + 1).sqrt(), 1 / (s**2 + 1), -s / (s**2 + 1).sqrt()
    inp = torch.cat([noisy * c_in, cond], dim=2)
    out = unet(inp, 0.25 * sigma.log(), context, added_time_ids=added_time_ids).sample
    return c_skip * noisy + c_out * out


def shared_sha256(folder: Path | str) -> str:
    """Fingerprint of a shared-components folder (adapters and context), recorded in every header."""
    h = hashlib.sha256()
    for name in SHARED_FILES:
        h.update((Path(folder) / name).read_bytes())
    return h.hexdigest()[:16]


class DivInrModule(LightningModule):
    """INR conditioner, LoRA-adapted SVD UNet and rate term, trained by a Lightning Trainer."""

    def __init__(
        self,
        config: DivInrConfig | None = None,
        latent_hw: tuple[int, int] = (32, 56),
        pixels: int = 448 * 256 * 7,
        mode: str = "pretrain",
        shared: str = "",
        fallback: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["config"])
        self.config = cfg = config or DivInrConfig()
        self.mode, self.pixels = mode, int(pixels)
        self.strict_loading = False
        bb = get_backbone(cfg.backbone, cfg.revision, cfg.seed, fallback)
        if bb.name != cfg.backbone:  # the load fell back: the header names the backbone that ran
            cfg.backbone, cfg.revision = bb.name, bb.revision
        self.backbone_name, self.backbone_revision = bb.name, bb.revision
        self.unet, self.vae = bb.unet, bb.vae
        self.scheduler = bb.scheduler
        self.scaling_factor = float(bb.vae.config.scaling_factor)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.inr = NervInr(cfg.inr, bb.latent_channels, latent_hw)
        self.context = nn.Parameter(torch.zeros(1, 1, bb.context_dim))
        lora.inject(self.unet, cfg.lora_rank, cfg.lora_convs, cfg.seed)
        if shared:
            self.load_shared(shared)
        quant.attach(self.inr)
        per_video = mode == "encode" and cfg.adapters == "per_video"
        if per_video:
            for _, m in lora.lora_modules(self.unet):
                quant.attach(m, ("weight",))
        self.requires_grad_(False)
        self.inr.requires_grad_(True)
        if per_video or mode == "pretrain":
            for p in lora.lora_parameters(self.unet):
                p.requires_grad_(True)
        if mode == "pretrain":
            self.context.requires_grad_(True)

    # ---- shared components -------------------------------------------------------------------
    def load_shared(self, folder: Path | str) -> None:
        """Load pre-trained shared adapters, context embedding and (when shapes fit) the INR initialisation."""
        folder = Path(folder)
        lora.load_adapters(self.unet, folder / "adapters.safetensors")
        self.context.data.copy_(load_file(str(folder / "context.safetensors"))["context"])
        init = folder / "inr_init.safetensors"
        if init.is_file():
            own = self.inr.state_dict()
            fits = {k: v for k, v in load_file(str(init)).items() if k in own and own[k].shape == v.shape}
            self.inr.load_state_dict(fits, strict=False)

    def save_shared(self, folder: Path | str) -> Path:
        """Write the shared components (decoder-side, not counted in the rate) to ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        lora.save_adapters(self.unet, folder / "adapters.safetensors")
        save_file({"context": self.context.detach().cpu().contiguous()}, str(folder / "context.safetensors"))
        inr = {
            k.replace("parametrizations.", "").replace(".original", ""): v
            for k, v in self.inr.state_dict().items()
        }
        inr = {k: v.detach().cpu().contiguous() for k, v in inr.items() if not k.endswith("log_step")}
        save_file(inr, str(folder / "inr_init.safetensors"))
        self.config.save_pretrained(folder)
        return folder

    # ---- science -----------------------------------------------------------------------------
    @property
    def warmup_total(self) -> int:
        """INR-only steps of an encode: ``warmup_steps`` per window, set by the encoder (else one window)."""
        return getattr(self, "_warmup_total", self.config.warmup_steps)

    @warmup_total.setter
    def warmup_total(self, value: int) -> None:
        self._warmup_total = int(value)

    def added_time_ids(self, batch: int) -> torch.Tensor:
        """SVD's micro-conditioning: (fps - 1, motion bucket, noise augmentation strength).

        The frame rate is clamped to :data:`FPS_RANGE`, the rates SVD was conditioned on (a 120 fps
        UVG clip is conditioned as 30 fps rather than on an id the model never saw). The noise
        augmentation strength stays 0: the conditioning is the INR's output, not a noised frame.
        """
        c = self.config
        fps = min(max(float(c.fps), FPS_RANGE[0]), FPS_RANGE[1])
        ids = torch.tensor([[fps - 1.0, float(c.motion_bucket_id), c.noise_aug_strength]], device=self.device)
        return ids.repeat(batch, 1)

    def denoise(self, noisy: torch.Tensor, sigma: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """SVD's preconditioned v-prediction denoiser D(x; sigma, cond) for (B, T, C, h, w) latents."""
        ctx = self.context.expand(noisy.shape[0], -1, -1)
        return edm_denoise(self.unet, noisy, sigma, cond, ctx, self.added_time_ids(noisy.shape[0]))

    @torch.no_grad()
    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """VAE latents (mode, unscaled, as SVD's image conditioning) of (N, 3, H, W) frames in [-1, 1]."""
        return torch.cat([self.vae.encode(f).latent_dist.mode() for f in frames.split(8)])

    def conditioning(self, t: torch.Tensor) -> torch.Tensor:
        """INR output for times ``t`` of shape (B, T): (B, T, C, h, w) conditioning latents."""
        out = self.inr(t.reshape(-1))
        return out.view(*t.shape, *out.shape[1:])

    def rate_bits(self) -> torch.Tensor:
        """Estimated bits of everything coded per video (quantised INR and per-video LoRA)."""
        if getattr(self, "_coded", None) is None:  # fixed once built: found once, not every step
            self._coded = list(quant.quantised_tensors(self))
        return quant.rate_bits(self, self._coded)

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        lat = batch.get("latents")
        if lat is None:
            frames = batch["frames"]
            lat = self.encode_frames(frames.flatten(0, 1)).view(*frames.shape[:2], -1, *self.inr.latent_hw)
        cond = self.conditioning(batch["t"])
        warm = self.mode == "encode" and self.global_step < self.warmup_total  # INR warm start
        diffusion = (
            self.diffusion_loss(lat * self.scaling_factor, cond)
            if self.config.diffusion and not warm
            else cond.new_zeros(())
        )
        regression = F.mse_loss(cond.float(), lat.float())
        bits = self.rate_bits()
        bpp = bits / self.pixels
        total = diffusion + self.config.regression_weight * regression + self.config.lam * bpp
        return {"loss": total, "diffusion": diffusion, "regression": regression, "bpp": bpp}

    def diffusion_loss(self, x0: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """SVD's EDM denoising loss of scaled latents ``x0`` given the conditioning ``cond``."""
        sigma = (torch.randn(x0.shape[0], device=x0.device) * P_STD + P_MEAN).exp()
        noisy = x0 + sigma.view(-1, 1, 1, 1, 1) * torch.randn_like(x0)
        weight = ((sigma**2 + 1) / sigma**2).view(-1, 1, 1, 1, 1)
        return (weight * (self.denoise(noisy, sigma, cond) - x0) ** 2).mean()

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self.losses(batch)
        self.log_dict({k: v.detach() for k, v in out.items()}, prog_bar=True, batch_size=batch["t"].shape[0])
        return out["loss"]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam([p for p in self.parameters() if p.requires_grad], lr=self.config.lr)

    # ---- checkpoints hold only what is trained -------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        trained = {n for n, p in self.named_parameters() if p.requires_grad}
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in trained}
        checkpoint["divinr_config"] = self.config.to_dict()
