"""Encode and decode speed of the CompressAI codecs, in frames per second, at a 1080p-like size.

Runs each codec end to end (YUV read, RGB conversion, padding, network, entropy coding, file write;
file read, decoding, YUV conversion) on a synthetic textured clip and prints one row per codec; with
``--check`` it also checks, outside the timing, that the decoder reproduces the encoder's reconstruction
bit for bit. Process CPU seconds per frame are printed too: on a shared machine they say more than wall
time (with ``--threads 1`` they are the single-core cost). With ``--weights untrained``
(the default: the zoo cannot be downloaded everywhere) the network cost is the real one, but untrained
latents are mostly zero, so entropy coding is cheaper than with trained weights; autoregressive models
(mbt2018, cheng2020-*) spend their time in a per-position loop that does not depend on the weights.

    python bench/bench_compressai.py --size 1920x1080 --frames 3 --threads 2
    python bench/bench_compressai.py --codecs ssf2020 --device cuda --weights pretrained
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from codecbench.registry import create_codec
from codecbench.video import Clip, VideoFormat
from codecbench.yuv import rgb_to_yuv, write_yuv

ALL = [
    "bmshj2018-factorized",
    "bmshj2018-hyperprior",
    "mbt2018-mean",
    "mbt2018",
    "cheng2020-anchor",
    "cheng2020-attn",
    "ssf2020",
]


def synthetic_clip(folder: Path, width: int, height: int, frames: int) -> Clip:
    """Smooth gradients, texture and a moving block, so motion and residuals are not trivial."""
    fmt = VideoFormat(width, height)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(0)
    out = []
    for i in range(frames):
        rgb = np.stack(
            [0.5 + 0.4 * np.sin(xx / 37 + i / 3), yy / height, 0.5 + 0.3 * np.cos((xx + yy) / 23)], -1
        )
        rgb[height // 4 : height // 2, width // 8 + 8 * i : width // 4 + 8 * i] = (0.9, 0.3, 0.1)
        rgb += rng.normal(0, 0.03, rgb.shape).astype(np.float32)
        out.append(rgb_to_yuv(np.clip(rgb, 0, 1), fmt))
    path = folder / f"synthetic_{width}x{height}.yuv"
    write_yuv(path, fmt, out)
    return Clip(path.stem, path, fmt, 25.0, frames)


def bench(name: str, clip: Clip, args: argparse.Namespace, workdir: Path) -> dict:
    opts = {"weights": args.weights, "device": args.device, "threads": str(args.threads), "progress": "false"}
    if name == "ssf2020":
        opts["gop"] = str(args.gop)
    codec = create_codec(name, opts)
    codec.model(codec.options["metric"], args.quality)  # load outside the timing
    t0, c0 = time.perf_counter(), time.process_time()
    path = codec.encode(clip, str(args.quality), workdir)
    t1, c1 = time.perf_counter(), time.process_time()
    decoded = list(codec.decode(path, workdir))
    t2, c2 = time.perf_counter(), time.process_time()
    exact = None
    if args.check:  # a second encode that keeps the encoder's reconstruction, outside the timing
        _, recon = codec.encode_with_reconstruction(clip, str(args.quality), workdir)
        exact = all(
            np.array_equal(p, q)
            for a, b in zip(recon, decoded, strict=True)
            for p, q in zip(a.planes, b.planes)
        )
    return {
        "codec": codec.label,
        "device": str(codec.device),
        "frames": clip.frames,
        "size": f"{clip.format.width}x{clip.format.height}",
        "encode_fps": clip.frames / (t1 - t0),
        "decode_fps": clip.frames / (t2 - t1),
        "encode_cpu_s_per_frame": (c1 - c0) / clip.frames,
        "decode_cpu_s_per_frame": (c2 - c1) / clip.frames,
        "bytes": path.stat().st_size,
        "exact": exact,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--codecs", default=",".join(ALL))
    p.add_argument("--size", default="1920x1080")
    p.add_argument("--frames", type=int, default=3)
    p.add_argument("--quality", type=int, default=3)
    p.add_argument("--gop", type=int, default=32)
    p.add_argument("--weights", default="untrained", choices=("untrained", "pretrained"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="0: torch's default")
    p.add_argument("--check", action="store_true", help="also check decoded == encoder reconstruction")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads by default, weights={args.weights}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = synthetic_clip(Path(tmp), width, height, args.frames)
        print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
        print(
            f"{'codec':34} {'device':6} {'size':>10} {'frames':>6} {'enc fps':>8} {'dec fps':>8} "
            f"{'enc cpu s/f':>11} {'dec cpu s/f':>11} {'bytes':>9} {'exact':>5}"
        )
        for name in args.codecs.split(","):
            r = bench(name.strip(), clip, args, Path(tmp))
            rows.append(r)
            print(
                f"{r['codec']:34} {r['device']:6} {r['size']:>10} {r['frames']:>6} "
                f"{r['encode_fps']:8.3f} {r['decode_fps']:8.3f} {r['encode_cpu_s_per_frame']:11.2f} "
                f"{r['decode_cpu_s_per_frame']:11.2f} {r['bytes']:9d} {'-' if r['exact'] is None else r['exact']!s:>5}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
