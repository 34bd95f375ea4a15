"""Timing of the DiV-INR codec: encode time per optimisation step, decode time per frame, peak memory.

CPU, tiny backbone (what this project's CI can run)::

    python bench/bench_divinr.py --width 384 --height 256 --frames 16 --steps 6 --rate-point m

It reports wall and process CPU time (both threads) per optimisation step and per decoded frame.

Full-size SVD (random-initialised, no weights needed; for a machine with a GPU)::

    python bench/bench_divinr.py --full-size --device cuda --frames 14

``--full-size`` builds the UNetSpatioTemporalConditionModel of stable-video-diffusion-img2vid(-xt)
with its published config and random weights, injects LoRA with PEFT, and times one training step
(forward + backward to the INR conditioning, bf16 autocast, gradient checkpointing) and one Euler
denoising step on a window of latents at 1080p latent size (136 x 240), reporting peak GPU memory.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

#: The UNet config of stabilityai/stable-video-diffusion-img2vid-xt (diffusers defaults, 25 frames).
SVD_XT_UNET = dict(
    sample_size=96,
    in_channels=8,
    out_channels=4,
    block_out_channels=(320, 640, 1280, 1280),
    cross_attention_dim=1024,
    num_attention_heads=(5, 10, 20, 20),
    addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=768,
    layers_per_block=2,
    num_frames=25,
)


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
    from codecbench_divinr.lora import inject
    from diffusers import UNetSpatioTemporalConditionModel

    dev = torch.device(a.device)
    h, w = a.latent
    cfg = dict(SVD_XT_UNET, num_frames=a.frames)
    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(**cfg).to(dev)
    unet.requires_grad_(False)
    inject(unet, a.lora_rank)
    for n, p in unet.named_parameters():
        p.requires_grad_("lora_" in n)
    unet.enable_gradient_checkpointing()
    params = sum(p.numel() for p in unet.parameters())
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    x = torch.randn(1, a.frames, 4, h, w, device=dev)
    cond = torch.randn(1, a.frames, 4, h, w, device=dev, requires_grad=True)
    ctx = torch.zeros(1, 1, 1024, device=dev)
    ids = torch.tensor([[23.0, 127.0, 0.0]], device=dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def train_step() -> None:
        with torch.autocast(dev.type, dtype=dtype, enabled=dev.type == "cuda"):
            out = unet(
                torch.cat([x, cond], 2), torch.tensor([0.5], device=dev), ctx, added_time_ids=ids
            ).sample
        out.float().square().mean().backward()

    def denoise_step() -> None:
        with torch.no_grad(), torch.autocast(dev.type, dtype=dtype, enabled=dev.type == "cuda"):
            unet(torch.cat([x, cond.detach()], 2), torch.tensor([0.5], device=dev), ctx, added_time_ids=ids)

    res = {"backbone": "svd-xt UNet config, random init", "params": params, "latent": f"{h}x{w}"}
    res |= {"frames": a.frames, "device": str(dev), "dtype": str(dtype)}
    for name, fn in (("train_step_s", train_step), ("denoise_step_s", denoise_step)):
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        fn()
        sync()
        t0 = time.perf_counter()
        for _ in range(a.repeats):
            fn()
        sync()
        res[name] = round((time.perf_counter() - t0) / a.repeats, 3)
        if dev.type == "cuda":
            res[name.replace("_s", "_peak_gib")] = round(torch.cuda.max_memory_allocated(dev) / 2**30, 2)
    res["decode_s_per_frame_estimate"] = round(res["denoise_step_s"] * a.inference_steps / a.frames, 3)
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
    p.add_argument("--full-size", action="store_true", help="random-initialised full-size SVD UNet")
    p.add_argument("--latent", type=int, nargs=2, default=(136, 240), help="latent HxW (1080p: 136 240)")
    p.add_argument("--lora-rank", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    print(json.dumps(bench_full(a) if a.full_size else bench_tiny(a), indent=2))


if __name__ == "__main__":
    main()
