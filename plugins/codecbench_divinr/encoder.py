"""The engineering of a DiV-INR encode: a Lightning Trainer fitting the module on one clip.

Checkpoints (trainable weights only) go to ``<workdir>/divinr_ckpt`` every ``checkpoint_every``
steps; an encode that finds a checkpoint of the same configuration there resumes from it.

Memory: on a GPU the frozen backbone is cast to the Trainer's half precision (bf16-mixed: bfloat16,
16-mixed: float16; 32-true keeps float32) before it moves there, the trained INR and LoRA keep
float32 masters, and the UNet runs with gradient checkpointing, its temporal transformer blocks
included (:mod:`codecbench_divinr.checkpointing`; option ``gradient_checkpointing``: auto = on GPU,
on, off). The returned module is on the CPU with the original float32 weights.
The encode also settles the header's ``decode_chunk`` (from the ``memory_gb`` budget unless given).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from torch.utils.data import DataLoader, Dataset

from codecbench import Clip, CodecbenchError, Progress, yuv_to_rgb
from codecbench_divinr import checkpointing
from codecbench_divinr.config import DivInrConfig
from codecbench_divinr.fastconv import fast_temporal_convs
from codecbench_divinr.inr import frame_times
from codecbench_divinr.module import DivInrModule
from codecbench_divinr.sampler import (
    autocast,
    cast_frozen,
    decode_chunk_for,
    param_dtype,
    restore_frozen,
    windows,
)

#: Spatial down-sampling of SVD-family VAEs (the tiny one too).
VAE_SCALE = 8
CKPT_DIR = "divinr_ckpt"


def latent_hw(width: int, height: int, cfg: DivInrConfig | None = None) -> tuple[int, int]:
    """Latent size of a picture, padded up to a multiple of the VAE's factor."""
    return math.ceil(height / VAE_SCALE), math.ceil(width / VAE_SCALE)


def clip_tensor(clip: Clip) -> torch.Tensor:
    """The clip as RGB (T, 3, H', W') in [-1, 1], edge-padded to a multiple of the VAE's factor."""
    h, w = latent_hw(clip.format.width, clip.format.height)
    frames = []
    for fr in clip.read():
        rgb = yuv_to_rgb(fr, clip.format)
        rgb = np.pad(
            rgb, ((0, h * VAE_SCALE - rgb.shape[0]), (0, w * VAE_SCALE - rgb.shape[1]), (0, 0)), "edge"
        )
        frames.append(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1))
    return torch.stack(frames) * 2 - 1


_LATENTS: dict[tuple, torch.Tensor] = {}


def clip_latents(module: DivInrModule, clip: Clip) -> torch.Tensor:
    """VAE latents (T, C, h, w) of the clip's frames, cached per process (a ladder encodes one clip often)."""
    st = Path(clip.path).stat()
    key = (
        str(clip.path),
        st.st_size,
        st.st_mtime_ns,
        clip.frames,
        module.backbone_name,
        module.backbone_revision,
        module.config.seed if module.backbone_name == "tiny" else 0,
        str(param_dtype(module.vae)),
    )
    if key not in _LATENTS:
        frames = clip_tensor(clip).to(module.device)
        with autocast(module.device, param_dtype(module.vae)):
            _LATENTS[key] = module.encode_frames(frames).float().cpu()
    return _LATENTS[key]


class WindowData(Dataset):
    """``steps`` items per window, cycling over the clip's windows: their target latents and frame times."""

    def __init__(self, latents: torch.Tensor, window: int, steps: int, overlap: int = 0) -> None:
        self.latents = latents
        self.times = frame_times(latents.shape[0])
        self.ranges = windows(latents.shape[0], window, overlap)
        self.steps = steps * len(self.ranges)

    def __len__(self) -> int:
        return max(self.steps, 1)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        r = self.ranges[i % len(self.ranges)]
        return {"latents": self.latents[r.start : r.stop], "t": self.times[r.start : r.stop]}


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Keep a benchmark's log readable: no Lightning banners, tips or warnings that are expected here.

    Expected: the frozen backbone sits in eval mode, the checkpoint folder is reused to resume,
    and the one-process DataLoader needs no workers.
    """
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric", "lightning")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        for pattern in (
            r".*module\(s\) in eval mode.*",
            r".*Checkpoint directory .* exists and is not empty.*",
            r".*does not have many workers.*",
            r".*LeafSpec.*",
        ):
            warnings.filterwarnings("ignore", message=pattern)
        for lg in loggers:
            lg.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


class StepProgress(Callback):
    """One progress line per encode, naming the sequence and rate point, with its optimisation steps.

    Replaces Lightning's epoch bar and loss block; in a log it writes occasional plain lines.
    """

    def __init__(self, desc: str, steps: int) -> None:
        self.desc, self.steps = desc, steps
        self.bar: Progress | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.bar = Progress(self.steps, self.desc, "steps", nested=True)
        self.bar.update(trainer.global_step)

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        if self.bar is not None:
            loss = trainer.callback_metrics.get("loss")
            self.bar.update(1, postfix=f"loss {float(loss):.4g}" if loss is not None else None)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def fit_clip(
    clip: Clip,
    cfg: DivInrConfig,
    workdir: Path,
    window: int = 0,
    shared: str = "",
    fallback: bool = True,
    device: torch.device | None = None,
    checkpoint_every: int = 25,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
    trainer_options: dict | None = None,
    label: str = "",
) -> DivInrModule:
    """Fit the INR (and per-video adapters) of ``clip`` under ``cfg``; returns the fitted module on CPU.

    ``progress`` shows one line named ``label`` (default: the clip's name) counting the steps.
    ``trainer_options`` holds the Trainer's ``devices``, ``strategy``, ``precision``, ``num_nodes``
    and the encode's ``gradient_checkpointing`` (auto/on/off), ``decode_chunk`` and ``memory_gb``.
    """
    device = device or torch.device("cpu")
    gpu = device.type == "cuda"
    extra = dict(trainer_options or {})
    precision = extra.pop("precision", "auto")
    if precision == "auto":
        precision = "bf16-mixed" if gpu else "32-true"
    ckpt_mode = extra.pop("gradient_checkpointing", "auto")
    if ckpt_mode not in ("auto", "on", "off"):
        raise ValueError(f"gradient_checkpointing must be auto, on or off, not {ckpt_mode!r}")
    chunk, memory_gb = extra.pop("decode_chunk", None), extra.pop("memory_gb", None)
    fmt = clip.format
    module = DivInrModule(
        cfg, latent_hw(fmt.width, fmt.height), fmt.pixels * clip.frames, "encode", shared, fallback
    )
    cfg.window = window or module.unet.config.num_frames
    if clip.frames > cfg.window and cfg.overlap >= cfg.window:
        raise CodecbenchError(f"divinr: overlap {cfg.overlap} must be smaller than the window {cfg.window}")
    if device.type == "cpu":  # same function, oneDNN's 2D kernels: PyTorch's CPU Conv3d backward is slow
        fast_temporal_convs(module.unet)
    if chunk is not None:
        if int(chunk) < 0:
            raise ValueError(f"decode_chunk must be >= 0, not {chunk}")
        cfg.decode_chunk = int(chunk)
    elif memory_gb is not None:
        cfg.decode_chunk = decode_chunk_for(module, float(memory_gb), fmt.width, fmt.height, cfg.window)
    # Frozen weights in the Trainer's half precision (bf16-mixed / 16-mixed: auto on a GPU, asked for
    # on a CPU), cast before they move; their float32 originals wait on the CPU.
    half = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(str(precision), torch.float32)
    originals = cast_frozen(module, half)
    checkpointed = ckpt_mode == "on" or (ckpt_mode == "auto" and gpu)
    if checkpointed:
        checkpointing.enable(module.unet)
    try:
        module.to(device)
        _fit(
            module, clip, cfg, workdir, device, precision, extra, checkpoint_every, progress, callbacks, label
        )
    finally:
        module.cpu()
        restore_frozen(originals)
        if checkpointed:
            checkpointing.disable(module.unet)
    return module.eval()


def _fit(
    module: DivInrModule,
    clip: Clip,
    cfg: DivInrConfig,
    workdir: Path,
    device: torch.device,
    precision: str,
    extra: dict,
    checkpoint_every: int,
    progress: bool,
    callbacks: Sequence[Callback],
    label: str,
) -> None:
    """The Lightning fit of :func:`fit_clip` (resuming from a checkpoint of the same config and clip)."""
    gpu = device.type == "cuda"
    latents = clip_latents(module, clip)
    ckdir = Path(workdir) / CKPT_DIR
    ckdir.mkdir(parents=True, exist_ok=True)
    stamp = ckdir / "config.json"
    identity = json.dumps(
        {"config": cfg.to_dict(), "clip": str(clip.path), "frames": clip.frames}, sort_keys=True
    )
    last = ckdir / "last.ckpt"
    resume = last if last.is_file() and stamp.is_file() and stamp.read_text() == identity else None
    if resume is None:
        for old in ckdir.glob("*.ckpt"):
            old.unlink()
        stamp.write_text(identity)
    n_windows = len(windows(clip.frames, cfg.window, cfg.overlap))
    total = (cfg.warmup_steps + cfg.steps) * n_windows
    module.warmup_total = cfg.warmup_steps * n_windows
    if total > 0:
        with quiet_lightning():
            L.seed_everything(cfg.seed, verbose=False)
            devices = int(extra.pop("devices", 1))
            if gpu and devices > 1:
                extra["devices"] = devices
            trainer = L.Trainer(
                max_steps=total,
                accelerator="gpu" if gpu else "cpu",
                devices=extra.pop("devices", [device.index or 0] if gpu else 1),
                precision=precision,
                strategy=extra.pop("strategy", "auto"),
                num_nodes=int(extra.pop("num_nodes", 1)),
                logger=False,
                enable_model_summary=False,
                enable_progress_bar=False,
                default_root_dir=str(workdir),
                callbacks=[
                    ModelCheckpoint(
                        dirpath=ckdir,
                        filename="step{step}",
                        every_n_train_steps=max(1, checkpoint_every),
                        save_top_k=1,
                        save_last=True,
                    ),
                    *([StepProgress(label or f"divinr {clip.name}", total)] if progress else []),
                    *callbacks,
                ],
            )
            data = DataLoader(
                WindowData(latents, cfg.window, cfg.warmup_steps + cfg.steps, cfg.overlap),
                batch_size=1,
                shuffle=False,
            )
            trainer.fit(module, data, ckpt_path=str(resume) if resume else None)
