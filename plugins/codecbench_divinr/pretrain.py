"""Pre-training of the shared decoder-side components with a LightningCLI (YAML config).

Trains, on a folder of clips in the Vimeo-90k septuplet layout
(``sequences/XXXXX/YYYY/im1.png .. im7.png`` listed in ``sep_trainlist.txt``), the parts of the
DiV-INR codec that every video shares: the LoRA adapters of the UNet, the cross-attention context
embedding, and the initialisation of the per-video INR. :class:`SaveShared` writes them to a folder
that the codec takes as ``--codec-opt divinr.shared=FOLDER``.

**Per-clip INRs.** At encode time the UNet is conditioned on an INR fitted to *that* video (see
:mod:`codecbench_divinr.encoder`). The shared parts must learn from the same kind of conditioning:
one INR of the frame time t fitted to all training clips would give them a signal that carries no
content, and adapters trained on it learn to ignore it. So :class:`PretrainShared` alternates, for
each batch of septuplets:

1. *inner fit*: one INR per clip starts from the shared initialisation and is fitted for
   ``inner_steps`` Adam steps to the clip's VAE latents, INR-only, with the loss of the encode's
   warm-up (``regression_weight * MSE(INR(t), latents) + lam * bits / pixels``, no UNet: cheap);
2. *shared step*: one optimiser step of the shared LoRA and context on the codec's diffusion loss
   (:meth:`DivInrModule.diffusion_loss`) conditioned on the fitted INRs' outputs. With
   ``joint_inr`` (default) this step is also one joint step of the per-clip INRs on
   diffusion + regression + rate, as the encode's steps after its warm-up; without it the
   conditioning is detached and only the shared parts learn;
3. *Reptile*: the shared INR initialisation moves toward the clips' fitted weights,
   ``init += meta_lr * (mean over clips of fitted - init)`` (averaged over processes too).

**Why Reptile rather than a bank of INRs** (as the ``mini`` prior's stage 3,
:mod:`codecbench_divinr.shared_stage`, does for its few clips): a bank holds one INR, and its
optimiser state, per training clip, so its memory grows with the dataset (64k septuplets in
Vimeo-90k), and each clip's INR is revisited only once per epoch. Here per-clip INRs live for one
batch, memory is that of one batch whatever the dataset's size, and what carries over between
batches is a meta-learned initialisation: the weights an encode starts from
(``inr_init.safetensors``, loaded by :meth:`DivInrModule.load_shared`), which it then fits in
fewer steps.

The INR's raw weights are what the initialisation holds: each per-clip INR gets fresh LSQ
quantisers (step sizes from its starting weights, as an encode does), and neither Reptile nor the
saved file touch the step sizes. The backbone never falls back to ``tiny`` here: pre-training a
backbone that did not load would be wasted. Example ``cfg.yaml``::

    seed_everything: 0
    model:
      config: {backbone: stabilityai/stable-video-diffusion-img2vid-xt, lora_rank: 4,
               inr: {freqs: 8, stem: 32, channels: [16, 12, 8]}, lam: 0.001}
      latent_hw: [32, 56]          # Vimeo-90k: 448x256 pixels / 8
      pixels: 802816               # 448 * 256 * 7, the rate term's bits per pixel
      inner_steps: 20
      meta_lr: 0.1
      lr: 0.001
    data: {root: /data/vimeo_septuplet, batch_size: 4, num_workers: 4}
    trainer:
      max_steps: 20000
      precision: bf16-mixed
      callbacks:
        - class_path: codecbench_divinr.pretrain.SaveShared
          init_args: {folder: shared_svd}

    python -m codecbench_divinr.pretrain fit --config cfg.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.cli import LightningCLI
from torch.utils.data import DataLoader, Dataset, default_collate
from torchvision.io import ImageReadMode, read_image

from codecbench import CodecbenchError
from codecbench_divinr import lora, quant
from codecbench_divinr.config import DivInrConfig
from codecbench_divinr.fastconv import fast_temporal_convs
from codecbench_divinr.inr import NervInr, frame_times
from codecbench_divinr.module import DivInrModule
from codecbench_divinr.schedule import warmup_cosine


class SeptupletDataset(Dataset):
    """Vimeo-90k septuplets as (frames (7, 3, H, W) in [-1, 1], times), centre-cropped to multiples of 8."""

    def __init__(self, root: Path | str, list_file: str = "sep_trainlist.txt", frames: int = 7) -> None:
        self.root = Path(root)
        listing = self.root / list_file
        if not listing.is_file():
            raise CodecbenchError(f"{listing}: no such list of septuplets (Vimeo-90k layout expected)")
        self.items = [ln.strip() for ln in listing.read_text().splitlines() if ln.strip()]
        if not self.items:
            raise CodecbenchError(f"{listing} lists no sequences")
        missing = [s for s in self.items if not (self.root / "sequences" / s).is_dir()]
        if missing:
            raise CodecbenchError(
                f"{listing}: {len(missing)} listed sequences are not folders under "
                f"{self.root / 'sequences'}, e.g. {missing[0]!r}"
            )
        self.frames = frames

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        folder = self.root / "sequences" / self.items[i]
        imgs = []
        for k in range(self.frames):
            path = folder / f"im{k + 1}.png"
            try:
                imgs.append(read_image(str(path), ImageReadMode.RGB))
            except (OSError, RuntimeError) as e:
                raise CodecbenchError(f"{path}: cannot read a septuplet frame ({e})") from e
        if len({tuple(im.shape) for im in imgs}) > 1:
            raise CodecbenchError(f"{folder}: the frames of a septuplet differ in size")
        x = torch.stack(imgs).float() / 127.5 - 1
        h, w = (x.shape[-2] // 8) * 8, (x.shape[-1] // 8) * 8
        top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
        return {"frames": x[..., top : top + h, left : left + w], "t": frame_times(self.frames)}


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack septuplets; a batch of differently sized ones is a data error, said plainly."""
    sizes = sorted({tuple(it["frames"].shape) for it in items})
    if len(sizes) > 1:
        raise CodecbenchError(f"septuplets of different sizes in one batch: {sizes} (use batch_size 1)")
    return default_collate(items)


class SeptupletDataModule(L.LightningDataModule):
    """Training septuplets from a Vimeo-90k-style folder."""

    def __init__(
        self, root: str, list_file: str = "sep_trainlist.txt", batch_size: int = 1, num_workers: int = 0
    ):
        super().__init__()
        self.root, self.list_file = root, list_file
        self.batch_size, self.num_workers = batch_size, num_workers

    def train_dataloader(self) -> DataLoader:
        data = SeptupletDataset(self.root, self.list_file)
        return DataLoader(
            data, batch_size=self.batch_size, shuffle=True, num_workers=self.num_workers, collate_fn=collate
        )


def plain_inr_state(inr: NervInr) -> dict[str, torch.Tensor]:
    """The raw (unquantised) weights of a quantised INR under plain ``NervInr`` names, no step sizes."""
    state = {
        k.replace("parametrizations.", "").replace(".original", ""): v for k, v in inr.state_dict().items()
    }
    return {k: v for k, v in state.items() if not k.endswith("log_step")}


class PretrainShared(L.LightningModule):
    """Shared LoRA + context trained with per-clip INRs fitted from a Reptile-learned initialisation.

    Wraps a :class:`DivInrModule` (``mode="pretrain"``) as ``core``; its ``inr`` holds the shared
    initialisation (updated by Reptile, not by gradients). ``inner_lr`` defaults to the encode's
    ``config.lr``. Manual optimisation: ``global_step`` counts shared steps, one per batch.
    """

    def __init__(
        self,
        config: DivInrConfig | None = None,
        latent_hw: tuple[int, int] = (32, 56),
        pixels: int = 448 * 256 * 7,
        shared: str = "",
        inner_steps: int = 20,
        inner_lr: float | None = None,
        meta_lr: float = 0.1,
        lr: float = 1e-3,
        joint_inr: bool = True,
    ) -> None:
        super().__init__()
        if (
            inner_steps < 0
            or not 0.0 <= meta_lr <= 1.0
            or lr <= 0
            or (inner_lr is not None and inner_lr <= 0)
        ):
            raise CodecbenchError(
                "pretrain: inner_steps must be >= 0, meta_lr in [0, 1], lr and inner_lr > 0 "
                f"(got {inner_steps}, {meta_lr}, {lr}, {inner_lr})"
            )
        self.save_hyperparameters(ignore=["config"])
        self.automatic_optimization = False
        self.strict_loading = False
        self.core = DivInrModule(config, latent_hw, pixels, mode="pretrain", shared=shared, fallback=False)
        self.config = self.core.config
        fast_temporal_convs(self.core.unet)
        self.core.inr.requires_grad_(False)  # the initialisation moves by Reptile
        #: Raw weights of the last batch's per-clip INRs after their fit (for inspection and tests).
        self.last_fitted: list[dict[str, torch.Tensor]] = []

    @property
    def context(self) -> torch.nn.Parameter:
        """The shared cross-attention context embedding."""
        return self.core.context

    def save_shared(self, folder: Path | str) -> Path:
        """Write adapters, context, INR initialisation and config (:meth:`DivInrModule.save_shared`)."""
        return self.core.save_shared(folder)

    # ---- per-clip INRs ---------------------------------------------------------------------------
    def clip_inr(self) -> NervInr:
        """A quantised INR starting from the shared initialisation, as an encode builds its own."""
        init = self.core.inr
        with torch.random.fork_rng(devices=[]):  # its random draw is overwritten: keep the RNG as is
            inr = NervInr(self.config.inr, init.head.out_channels, init.latent_hw)
        inr.load_state_dict(plain_inr_state(init))
        quant.attach(inr)
        return inr.to(self.device)

    def inr_losses(
        self, inrs: list[NervInr], lat: torch.Tensor, t: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Conditioning (B, T, C, h, w), and the clips' mean regression and bits per pixel."""
        cond = torch.stack([inr(tb) for inr, tb in zip(inrs, t, strict=True)])
        regression = F.mse_loss(cond.float(), lat)
        bpp = torch.stack([quant.rate_bits(inr) for inr in inrs]).mean() / self.core.pixels
        return cond, regression, bpp

    def fit_inrs(
        self, lat: torch.Tensor, t: torch.Tensor
    ) -> tuple[list[NervInr], torch.optim.Optimizer, list[float]]:
        """Fit one INR per clip to latents (B, T, C, h, w): ``inner_steps`` regression (+ rate) steps.

        Returns the INRs, their optimiser (for a joint step) and the loss before/after the fit.
        """
        cfg = self.config
        inrs = [self.clip_inr() for _ in range(lat.shape[0])]
        opt = torch.optim.Adam(
            [p for inr in inrs for p in inr.parameters()], lr=self.hparams.inner_lr or cfg.lr
        )
        trace = []
        with torch.enable_grad(), torch.autocast(self.device.type, enabled=False):
            for _ in range(self.hparams.inner_steps):
                _, regression, bpp = self.inr_losses(inrs, lat, t)
                loss = cfg.regression_weight * regression + cfg.lam * bpp
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                trace.append(float(loss.detach()))
        return inrs, opt, trace

    @torch.no_grad()
    def reptile(self, inrs: list[NervInr]) -> None:
        """Move the shared initialisation toward the mean of the fitted raw weights."""
        fitted = [dict(inr.named_parameters()) for inr in inrs]
        for name, p in self.core.inr.named_parameters():
            if name.endswith("log_step"):
                continue
            delta = torch.stack([f[name].detach() for f in fitted]).mean(0) - p
            delta = self.trainer.strategy.reduce(delta, reduce_op="mean")  # all processes' clips
            p.add_(delta, alpha=self.hparams.meta_lr)

    # ---- training --------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        frames, t = batch["frames"], batch["t"]
        hw = self.core.inr.latent_hw
        lat = self.core.encode_frames(frames.flatten(0, 1)).float()
        if tuple(lat.shape[-2:]) != hw:
            raise CodecbenchError(
                f"pretrain: frames of {frames.shape[-1]}x{frames.shape[-2]} give latents of "
                f"{lat.shape[-1]}x{lat.shape[-2]}, but model.latent_hw is {list(hw)} (height, width): "
                f"set it to [{lat.shape[-2]}, {lat.shape[-1]}]"
            )
        lat = lat.view(*frames.shape[:2], -1, *hw)
        inrs, inr_opt, trace = self.fit_inrs(lat, t)

        opt, sched = self.optimizers(), self.lr_schedulers()
        joint = self.hparams.joint_inr
        cond, regression, bpp = self.inr_losses(inrs, lat, t)
        diffusion = self.core.diffusion_loss(lat * self.core.scaling_factor, cond if joint else cond.detach())
        loss = diffusion
        if joint:
            loss = loss + self.config.regression_weight * regression + self.config.lam * bpp
        opt.zero_grad()
        inr_opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        if joint:
            self._inr_step(inrs, inr_opt)
        opt.step()
        sched.step()
        self.reptile(inrs)
        self.last_fitted = [
            {k: v.detach().cpu().clone() for k, v in plain_inr_state(i).items()} for i in inrs
        ]

        logs = {"diffusion": diffusion.detach(), "regression": regression.detach(), "bpp": bpp.detach()}
        if trace:
            logs |= {"inner_start": torch.tensor(trace[0]), "inner_end": torch.tensor(trace[-1])}
        self.log_dict(logs, prog_bar=True, batch_size=frames.shape[0])

    def _inr_step(self, inrs: list[NervInr], opt: torch.optim.Optimizer) -> None:
        """The per-clip INRs' joint step; their gradients came through Lightning's (maybe scaled) backward."""
        params = [p for inr in inrs for p in inr.parameters() if p.grad is not None]
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        if scaler is not None:  # 16-mixed: undo the loss scale, skip on overflow as the scaler does
            for p in params:
                p.grad.div_(scaler.get_scale())
        if all(torch.isfinite(p.grad).all() for p in params):
            opt.step()

    def configure_optimizers(self) -> dict:
        params = [*lora.lora_parameters(self.core.unet), self.core.context]
        return warmup_cosine(params, self.hparams.lr, self.trainer.estimated_stepping_batches)

    # ---- checkpoints hold only what is trained -------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        keep = {f"core.{n}" for n, p in self.core.named_parameters() if p.requires_grad}
        keep |= {k for k in checkpoint["state_dict"] if k.startswith("core.inr.") and "log_step" not in k}
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in keep}
        checkpoint["divinr_config"] = self.config.to_dict()


class SaveShared(Callback):
    """At the end of training, write the shared components to ``folder`` (for ``divinr.shared``).

    Works with any module that has ``save_shared(folder)`` (:class:`PretrainShared`, :class:`DivInrModule`).
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            pl_module.save_shared(self.folder)


def main(args: list[str] | None = None) -> LightningCLI:
    """Run the LightningCLI (``fit --config cfg.yaml``); ``args`` defaults to the command line."""
    return LightningCLI(
        PretrainShared,
        SeptupletDataModule,
        args=args if args is not None else sys.argv[1:],
        save_config_kwargs={"overwrite": True},
    )


if __name__ == "__main__":
    try:
        main()
    except CodecbenchError as e:
        sys.exit(f"codecbench_divinr.pretrain: {e}")
