"""Timing of the DiV-INR codec: encode time per optimisation step, decode time per frame, peak memory.

CPU, tiny backbone (what this project's CI can run)::

    python bench/bench_divinr.py --width 384 --height 256 --frames 16 --steps 6 --rate-point m

It reports wall and process CPU time (both threads) per optimisation step and per decoded frame.

Full-size SVD-XT (random-initialised, no weights needed)::

    python bench/bench_divinr.py --full-size --device cuda --width 1920 --height 1080 --frames 25
    python bench/bench_divinr.py --full-size --device cpu --width 64 --height 64 --frames 2   # smoke

``--full-size`` builds the UNet (1.52 B parameters) and VAE of stable-video-diffusion-img2vid-xt
with their published configs and random weights, and runs the codec's own code path
(``DivInrModule``, ``codecbench_divinr.sampler``) as an encode and a decode on that device would:
frozen weights in bfloat16 on a GPU (float32 on a CPU), INR and LoRA float32, gradient
checkpointing (GPU, or ``--checkpointing on``), the VAE decode in chunks of ``decode_chunk`` frames
(from ``--memory-gb`` like the codec, or ``--decode-chunk``). It reports the peak memory
(``torch.cuda.max_memory_allocated``; peak RSS on a CPU) and time of: the VAE encode of the clip's
frames, one optimisation step (joint loss, backward to INR and LoRA, Adam), and the decode of one
window (Euler steps + VAE). A stage that runs out of GPU memory is reported as ``"OOM"``.

No GPU was available when this was written: the GPU figures are unmeasured; the CPU smoke runs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def make_clip(folder: Path, width: int, height: int, frames: int):  # noqa: ANN201
    """A moving-gradient test clip written as raw YUV."""
    from codecbench.video import Clip, Frame, VideoFormat
    from codecbench.yuv import write_yuv

    fmt = VideoFormat(width, height)
    yy, xx = np.mgrid[0:height, 0:width]
    c = np.full((height // 2, width // 2), 128, np.uint8)
    out = [Frame(((xx + 2 * yy + 8 * i) % 220 + 16).astype(np.uint8), c, c) for i in range(frames)]
    write_yuv(folder / "bench.yuv", fmt, out)
    return Clip("bench", folder / "bench.yuv", fmt, 24.0, frames)


def bench_tiny(a: argparse.Namespace) -> dict:
    from lightning.pytorch.callbacks import Callback

    from codecbench.registry import create_codec

    times: list[float] = []
    cpu: list[float] = []

    class StepTimer(Callback):
        def on_train_batch_start(self, *args) -> None:  # noqa: ANN002
            self.t, self.c = time.perf_counter(), time.process_time()

        def on_train_batch_end(self, *args) -> None:  # noqa: ANN002
            times.append(time.perf_counter() - self.t)
            cpu.append(time.process_time() - self.c)

    opts = {"backbone": "tiny", "steps": a.steps, "inference_steps": a.inference_steps, "window": a.window}
    opts |= {"progress": False, "device": a.device, "adapters": a.adapters}
    codec = create_codec("divinr", opts)
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp), a.width, a.height, a.frames)
        import codecbench_divinr.codec as cmod

        orig = cmod.fit_clip
        cmod.fit_clip = lambda *p, **k: orig(*p, **k, callbacks=[StepTimer()])
        t0 = time.perf_counter()
        path = codec.encode(clip, a.rate_point, Path(tmp) / "w")
        encode_s = time.perf_counter() - t0
        cmod.fit_clip = orig
        t0, c0 = time.perf_counter(), time.process_time()
        n = sum(1 for _ in codec.decode(path, Path(tmp)))
        decode_s, decode_cpu = time.perf_counter() - t0, time.process_time() - c0
        size = path.stat().st_size
    steady = times[1:] or times
    steady_cpu = cpu[1:] or cpu
    return {
        "backbone": "tiny",
        "device": a.device,
        "size": f"{a.width}x{a.height}x{a.frames}",
        "rate_point": a.rate_point,
        "bytes": size,
        "bpp": 8 * size / (a.width * a.height * a.frames),
        "encode_total_s": round(encode_s, 2),
        "encode_s_per_step": round(float(np.median(steady)), 3),
        "encode_cpu_s_per_step": round(float(np.median(steady_cpu)), 3),
        "first_step_s": round(times[0], 3) if times else None,
        "decode_s_per_frame": round(decode_s / n, 3),
        "decode_cpu_s_per_frame": round(decode_cpu / n, 3),
        "inference_steps": a.inference_steps,
        "window": a.window,
        "torch_threads": torch.get_num_threads(),
    }


def bench_full(a: argparse.Namespace) -> dict:
    import resource

    from codecbench_divinr import checkpointing
    from codecbench_divinr.config import DivInrConfig
    from codecbench_divinr.encoder import latent_hw
    from codecbench_divinr.fullsize import NAME, REVISION, full_size_backbone, install
    from codecbench_divinr.inr import frame_times
    from codecbench_divinr.ladder import inr_for, parse_rate_point
    from codecbench_divinr.module import DivInrModule
    from codecbench_divinr.sampler import (
        autocast,
        cast_frozen,
        decode_chunk_for,
        decode_latents,
        half_dtype,
        sample_window,
    )

    dev = torch.device(a.device)
    gpu = dev.type == "cuda"
    dtype = {"auto": half_dtype(dev), "bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[
        a.precision
    ]
    t0 = time.perf_counter()
    bb = full_size_backbone(0, vae="svd")
    h, w = latent_hw(a.width, a.height)
    size = inr_for(parse_rate_point(a.rate_point), a.width, a.height, a.frames)
    cfg = DivInrConfig(
        backbone=NAME,
        revision=REVISION,
        inr=size,
        adapters=a.adapters,
        lora_rank=a.lora_rank,
        window=a.frames,
    )
    with install(bb):
        module = DivInrModule(cfg, (h, w), a.width * a.height * a.frames, "encode")
    cast_frozen(module, dtype)
    module.to(dev)
    checkpointed = a.checkpointing == "on" or (a.checkpointing == "auto" and gpu)
    if checkpointed:
        checkpointing.enable(module.unet)
    if a.decode_chunk is not None:
        module.config.decode_chunk = a.decode_chunk
    else:
        module.config.decode_chunk = decode_chunk_for(module, a.memory_gb, a.width, a.height, a.frames)
    res: dict = {
        "backbone": "svd-xt UNet + SVD VAE configs, random init",
        "unet_params": sum(p.numel() for p in module.unet.parameters()),
        "size": f"{a.width}x{a.height}x{a.frames}",
        "latent": f"{h}x{w}",
        "device": str(dev),
        "frozen_dtype": str(dtype),
        "gradient_checkpointing": checkpointed,
        "decode_chunk": module.config.decode_chunk,
        "memory_gb_budget": a.memory_gb if a.decode_chunk is None else None,
        "build_s": round(time.perf_counter() - t0, 1),
    }
    if gpu:
        torch.cuda.synchronize(dev)
        res["weights_gib"] = round(torch.cuda.memory_allocated(dev) / 2**30, 2)
    sync = (lambda: torch.cuda.synchronize(dev)) if gpu else (lambda: None)

    def measure(name: str, fn, repeats: int = 1):  # noqa: ANN001, ANN202
        if gpu:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)
        out = None
        try:
            t = time.perf_counter()
            for _ in range(repeats):
                out = fn()
            sync()
            res[f"{name}_s"] = round((time.perf_counter() - t) / repeats, 3)
        except torch.cuda.OutOfMemoryError:
            res[f"{name}_s"] = "OOM"
        if gpu:
            res[f"{name}_peak_gib"] = round(torch.cuda.max_memory_allocated(dev) / 2**30, 2)
        else:
            res[f"{name}_peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
        return out

    frames = torch.rand(a.frames, 3, h * 8, w * 8, generator=torch.Generator().manual_seed(0)) * 2 - 1

    def vae_encode() -> torch.Tensor:
        with autocast(dev, dtype):
            return module.encode_frames(frames.to(dev)).float()

    latents = measure("vae_encode", vae_encode)
    if latents is None:
        return res
    times = frame_times(a.frames, dev)
    opt = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=cfg.lr)

    def train_step() -> None:
        with autocast(dev, dtype):
            loss = module.losses({"latents": latents[None], "t": times[None]})["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    measure("encode_step_first", train_step)
    measure("encode_step", train_step, a.repeats)

    def decode() -> None:
        with torch.no_grad():
            lat, _ = sample_window(module, module.inr(times).float(), a.inference_steps, cfg.seed)
            decode_latents(module, lat)

    measure("decode_window", decode)
    if gpu:
        res["gpu"] = torch.cuda.get_device_name(dev)
    return res


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--width", type=int, default=384)
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--steps", type=int, default=6, help="optimisation steps (the first is not counted)")
    p.add_argument("--inference-steps", type=int, default=2)
    p.add_argument("--window", type=int, default=8)
    p.add_argument("--rate-point", default="m")
    p.add_argument("--adapters", default="shared", choices=("shared", "per_video"))
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--full-size", action="store_true", help="random-initialised full-size SVD-XT UNet and VAE"
    )
    p.add_argument("--lora-rank", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3, help="--full-size: timed optimisation steps")
    p.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp16", "fp32"))
    p.add_argument("--checkpointing", default="auto", choices=("auto", "on", "off"))
    p.add_argument("--memory-gb", type=float, default=24.0, help="decode budget that picks decode_chunk")
    p.add_argument("--decode-chunk", type=int, default=None, help="frames per VAE-decode chunk (0: whole)")
    a = p.parse_args(argv)
    print(json.dumps(bench_full(a) if a.full_size else bench_tiny(a), indent=2))


if __name__ == "__main__":
    main()
