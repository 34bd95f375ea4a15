"""Frames per second of codecbench's PSNR, MS-SSIM and VMAF at 1080p, beside ffmpeg's own filters.

Usage: ``python bench/bench_metrics.py [--frames 10] [--source CLIP] [--json OUT]``

The reference is a real camera clip (``../shared/data/Zhling_1280x720.264``, upscaled to 1920x1080)
when present, else ffmpeg's ``testsrc2`` pattern; the distorted clip is the reference through
x265 (ultrafast, CRF 32). Every tool scores the same two raw 8-bit 4:2:0 files of exactly N frames.
Times are wall-clock seconds for the whole call (file reading included), best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from codecbench import ffmpeg
from codecbench.registry import create_metric
from codecbench.video import Clip, VideoFormat

FMT = VideoFormat(1920, 1080)
DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "Zhling_1280x720.264"


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


def ffmpeg_filter(ref: Clip, dist: Clip, graph: str) -> None:
    """Run a two-input ffmpeg filter on the files, both inputs cut to the clip's frame count.

    ``graph`` starts with a filter applied to ``[d][r]``; a second filter may use ``[r1]``.
    """
    trim = f"trim=end_frame={ref.frames},setpts=PTS-STARTPTS"
    refs = f"{trim},split[r][r1]" if "[r1]" in graph else f"{trim}[r]"
    ffmpeg.run(
        [
            *ffmpeg.rawvideo_input(dist.path, FMT.pix_fmt, FMT.width, FMT.height),
            *ffmpeg.rawvideo_input(ref.path, FMT.pix_fmt, FMT.width, FMT.height),
            "-filter_complex",
            f"[0:v]{trim}[d];[1:v]{refs};[d][r]{graph}",
            "-f",
            "null",
            "-",
        ]
    )


def timed(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="a video file, or 'none' for testsrc2")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()
    threads = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        ref, dist = make_inputs(Path(tmp), args.frames, args.source)
        psnr, psnr_yuv, msssim, vmaf = (create_metric(n) for n in ("psnr_y", "psnr_yuv", "ms_ssim_y", "vmaf"))
        cases: dict[str, Callable[[], object]] = {
            "codecbench psnr_y": lambda: psnr.evaluate(ref, dist),
            "codecbench psnr_yuv": lambda: psnr_yuv.evaluate(ref, dist),
            "codecbench ms_ssim_y": lambda: msssim.evaluate(ref, dist),
            "codecbench psnr_y + ms_ssim_y": lambda: (psnr.evaluate(ref, dist), msssim.evaluate(ref, dist)),
            "ffmpeg psnr filter": lambda: ffmpeg_filter(ref, dist, "psnr"),
            "ffmpeg ssim filter": lambda: ffmpeg_filter(ref, dist, "ssim"),
            "ffmpeg psnr + ssim filters": lambda: ffmpeg_filter(ref, dist, PSNR_THEN_SSIM),
            "codecbench vmaf": lambda: vmaf.evaluate(ref, dist),
            f"ffmpeg libvmaf filter (n_threads={threads})": lambda: ffmpeg_filter(
                ref, dist, f"libvmaf=model=version=vmaf_v0.6.1:n_threads={threads}"
            ),
        }
        results = {}
        for name, fn in cases.items():
            seconds = timed(fn, args.repeat)
            results[name] = {"seconds": round(seconds, 3), "fps": round(args.frames / seconds, 2)}
            print(f"{name:45s} {args.frames / seconds:8.2f} fps  ({seconds:.2f} s for {args.frames} frames)")
        values = {
            "psnr_y": float(psnr.summarize(psnr.evaluate(ref, dist))),
            "ms_ssim_y": float(msssim.summarize(msssim.evaluate(ref, dist))),
            "vmaf": float(vmaf.summarize(vmaf.evaluate(ref, dist))),
        }
        print("scores:", json.dumps(values))
    if args.json:
        meta = {"frames": args.frames, "size": "1920x1080", "threads": threads, "ffmpeg": ffmpeg.version()}
        args.json.write_text(json.dumps({"meta": meta, "fps": results, "scores": values}, indent=2))


if __name__ == "__main__":
    main()
