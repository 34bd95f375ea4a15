"""Frames per second of codecbench's PSNR, MS-SSIM and VMAF at 1080p, beside ffmpeg and pytorch-msssim.

Usage: ``python bench/bench_metrics.py [--frames 10] [--repeat 3] [--threads N] [--source CLIP] [--json OUT]``

The reference is a real camera clip (``../shared/data/Zhling_1280x720.264``, upscaled to 1920x1080)
when present, else ffmpeg's ``testsrc2`` pattern; the distorted clip is the reference through
x265 (ultrafast, CRF 32). Every tool scores the same two raw 8-bit 4:2:0 files of exactly N frames.
Times are wall-clock seconds for the whole call (file reading included; ffmpeg's include its
process start), best of ``--repeat`` rounds, each round running every case once in turn, so
that the ratios compare figures taken under the same load.

``--threads N`` holds the process to N threads (OpenMP/MKL/OpenBLAS, torch, ffmpeg's filter
threads), as a job under the harness's thread budget is; without it every library uses its
default. The goals checked: PSNR-Y at least 0.5x the fps of ffmpeg's ``psnr`` filter, MS-SSIM-Y
at least 5x the fps of ``pytorch_msssim.ms_ssim`` (same frames read from the same files, same
batches, float32, ``data_range=1``), agreeing with it within 1e-5 on every frame.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from codecbench import ffmpeg, threads
from codecbench.video import Clip, VideoFormat

FMT = VideoFormat(1920, 1080)
DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "Zhling_1280x720.264"
#: (case, baseline case, least ratio of their fps) checked at the end.
GOALS = (
    ("codecbench psnr_y", "ffmpeg psnr filter", 0.5),
    ("codecbench ms_ssim_y", "pytorch-msssim ms_ssim (Y)", 5.0),
)


def make_inputs(tmp: Path, frames: int, source: Path | None) -> tuple[Clip, Clip]:
    """Write the 1080p reference and its x265-coded version as raw YUV files of ``frames`` frames."""
    ref, dist, hevc = tmp / "ref.yuv", tmp / "dist.yuv", tmp / "dist.hevc"
    if source and source.is_file():
        src = ["-i", str(source)]  # 19 frames: --frames beyond that needs --source none
    else:
        src = ["-f", "lavfi", "-i", f"testsrc2=size={FMT.width}x{FMT.height}:rate=25"]
    scale = f"scale={FMT.width}:{FMT.height}:flags=bicubic,format=yuv420p"
    ffmpeg.run([*src, "-vf", scale, "-frames:v", str(frames), "-f", "rawvideo", str(ref)])
    if ref.stat().st_size != frames * FMT.frame_bytes:
        raise SystemExit(f"{source} has fewer than {frames} frames; ask for fewer or use --source none")
    raw = ffmpeg.rawvideo_input(ref, FMT.pix_fmt, FMT.width, FMT.height)
    x265 = ["-c:v", "libx265", "-preset", "ultrafast", "-crf", "32", "-x265-params", "log-level=error"]
    ffmpeg.run([*raw, *x265, str(hevc)])
    ffmpeg.run(["-i", str(hevc), "-f", "rawvideo", "-pix_fmt", FMT.pix_fmt, str(dist)])
    return Clip("ref", ref, FMT, 25.0, frames), Clip("dist", dist, FMT, 25.0, frames)


#: psnr passes its first input through, so ssim can follow it in one pass over the files.
PSNR_THEN_SSIM = "psnr[p];[r1][p]ssim"


def ffmpeg_filter(ref: Clip, dist: Clip, graph: str, n_threads: int | None) -> None:
    """Run a two-input ffmpeg filter on the files, both inputs cut to the clip's frame count.

    ``graph`` starts with a filter applied to ``[d][r]``; a second filter may use ``[r1]``.
    """
    trim = f"trim=end_frame={ref.frames},setpts=PTS-STARTPTS"
    refs = f"{trim},split[r][r1]" if "[r1]" in graph else f"{trim}[r]"
    limits = ["-threads", str(n_threads), "-filter_complex_threads", str(n_threads)] if n_threads else []
    ffmpeg.run(
        [
            *limits,
            *ffmpeg.rawvideo_input(dist.path, FMT.pix_fmt, FMT.width, FMT.height),
            *ffmpeg.rawvideo_input(ref.path, FMT.pix_fmt, FMT.width, FMT.height),
            "-filter_complex",
            f"[0:v]{trim}[d];[1:v]{refs};[d][r]{graph}",
            "-f",
            "null",
            "-",
        ]
    )


def pytorch_msssim_y(ref: Clip, dist: Clip, batch: int) -> list[float]:
    """Per-frame MS-SSIM of luma by ``pytorch_msssim.ms_ssim``, fed as codecbench feeds its own."""
    import numpy as np
    import torch
    from pytorch_msssim import ms_ssim

    from codecbench.metrics.nets import batches

    top = np.float32(ref.format.max_value)
    out: list[float] = []
    with torch.inference_mode():
        for rb, db in zip(batches(ref.read(), batch), batches(dist.read(), batch), strict=True):
            x, y = (
                torch.from_numpy(np.stack([f.y for f in b]).astype(np.float32) / top)[:, None]
                for b in (rb, db)
            )
            out += ms_ssim(x, y, data_range=1.0, size_average=False).tolist()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--repeat", type=int, default=3, help="rounds; each figure is the best round")
    p.add_argument("--threads", type=int, help="thread budget (default: each library's own)")
    p.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="a video file, or 'none' for testsrc2")
    p.add_argument("--skip-vmaf", action="store_true", help="leave out the (slow) VMAF cases")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()
    if args.threads and os.environ.get(threads.BUDGET_ENV_VAR) != str(args.threads):
        # Thread pools read their sizes when their library loads: start again with the budget set.
        os.environ.update(threads.budget_environ(args.threads))
        os.execv(sys.executable, [sys.executable, *sys.argv])

    import numpy as np
    import torch

    from codecbench.metrics.frames import evaluate_frame_metrics
    from codecbench.metrics.nets import auto_batch
    from codecbench.registry import create_metric

    if args.threads:
        threads.apply_budget(args.threads)
    n_vmaf = args.threads or threads.available_cores()
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        ref, dist = make_inputs(Path(tmp), args.frames, args.source)
        psnr, psnr_yuv, msssim, vmaf = (create_metric(n) for n in ("psnr_y", "psnr_yuv", "ms_ssim_y", "vmaf"))
        rgb_metrics = [create_metric(n) for n in ("psnr_rgb", "ms_ssim_rgb")]
        batch = auto_batch(FMT, 0, pixels_per_batch=1 << 22)  # ms_ssim_y's own batch size
        reference: dict[str, list[float]] = {}
        cases: dict[str, Callable[[], object]] = {
            "codecbench psnr_y": lambda: psnr.evaluate(ref, dist),
            "ffmpeg psnr filter": lambda: ffmpeg_filter(ref, dist, "psnr", args.threads),
            "codecbench psnr_yuv": lambda: psnr_yuv.evaluate(ref, dist),
            "codecbench ms_ssim_y": lambda: msssim.evaluate(ref, dist),
            "pytorch-msssim ms_ssim (Y)": lambda: reference.update(y=pytorch_msssim_y(ref, dist, batch)),
            "codecbench psnr_y + psnr_yuv + ms_ssim_y, one by one": lambda: [
                m.evaluate(ref, dist) for m in (psnr, psnr_yuv, msssim)
            ],
            "codecbench psnr_y + psnr_yuv + ms_ssim_y, frames shared (runner)": lambda: (
                evaluate_frame_metrics([psnr, psnr_yuv, msssim], ref, dist)
            ),
            "codecbench psnr_rgb + ms_ssim_rgb, one by one": lambda: [
                m.evaluate(ref, dist) for m in rgb_metrics
            ],
            "codecbench psnr_rgb + ms_ssim_rgb, frames and RGB shared (runner)": lambda: (
                evaluate_frame_metrics(rgb_metrics, ref, dist)
            ),
            "ffmpeg ssim filter": lambda: ffmpeg_filter(ref, dist, "ssim", args.threads),
            "ffmpeg psnr + ssim filters": lambda: ffmpeg_filter(ref, dist, PSNR_THEN_SSIM, args.threads),
        }
        if not args.skip_vmaf:
            cases["codecbench vmaf"] = lambda: vmaf.evaluate(ref, dist)
            cases[f"ffmpeg libvmaf filter (n_threads={n_vmaf})"] = lambda: ffmpeg_filter(
                ref, dist, f"libvmaf=model=version=vmaf_v0.6.1:n_threads={n_vmaf}", args.threads
            )
        best = dict.fromkeys(cases, float("inf"))
        for _ in range(args.repeat):
            for name, fn in cases.items():
                start = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - start)
        results = {}
        for name, seconds in best.items():
            results[name] = {"seconds": round(seconds, 4), "fps": round(args.frames / seconds, 2)}
            print(f"{name:66s} {args.frames / seconds:8.2f} fps  ({seconds:.3f} s for {args.frames} frames)")
        goals = {}
        for case, baseline, least in GOALS:
            ratio = best[baseline] / best[case]
            goals[case] = {"versus": baseline, "ratio": round(ratio, 2), "goal": least, "met": ratio >= least}
            verdict = "met" if ratio >= least else "NOT met"
            print(f"{case} / {baseline}: {ratio:.2f}x (goal >= {least}x: {verdict})")
        ours = msssim.evaluate(ref, dist)
        agreement = float(np.max(np.abs(ours - np.asarray(reference["y"]))))
        print(f"ms_ssim_y vs pytorch-msssim: largest per-frame difference {agreement:.2e} (goal <= 1e-5)")
        values = {
            "psnr_y": float(psnr.summarize(psnr.evaluate(ref, dist))),
            "ms_ssim_y": float(msssim.summarize(ours)),
        }
        if not args.skip_vmaf:
            values["vmaf"] = float(vmaf.summarize(vmaf.evaluate(ref, dist)))
        print("scores:", json.dumps(values))
    setting = {
        "threads": args.threads or "default",
        "torch_threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", ""),
        "cores": threads.available_cores(),
    }
    print("threads:", json.dumps(setting))
    if args.json:
        meta = {"frames": args.frames, "size": "1920x1080", **setting, "ffmpeg": ffmpeg.version()}
        report = {"meta": meta, "fps": results, "goals": goals, "ms_ssim_y_max_abs_diff": agreement}
        args.json.write_text(json.dumps({**report, "scores": values}, indent=2))


if __name__ == "__main__":
    main()
