"""Peak memory of the harness against sequence length: 1080p, 60 vs 600 frames.

Each measurement is a fresh ``codecbench run`` process (the toy codec of the tests, PSNR-Y), so
its peak resident set size covers reading the source, encoding, decoding to disk and measuring.
The harness streams frames, so the two peaks should agree within 10%.

    python bench/bench_memory.py [--frames 60,600] [--codec toy] [--workdir /tmp/cb-mem]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from codecbench import ffmpeg

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "tests" / "fixtures" / "toyplugin"


def make_clip(folder: Path, frames: int) -> Path:
    """A 1080p 8-bit clip of ``frames`` frames from ffmpeg's testsrc2 (generated once)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "Bench_1920x1080_60.yuv"
    if not path.exists() or path.stat().st_size < frames * 1920 * 1080 * 3 // 2:
        ffmpeg.run(["-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=60", "-frames:v", frames,
                    "-pix_fmt", "yuv420p", "-f", "rawvideo", path])  # fmt: skip
    return folder


def peak_rss_mib(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``cmd``; return (peak RSS of it in MiB, wall seconds)."""
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.execvpe(cmd[0], cmd, env)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}")
    return usage.ru_maxrss / 1024, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", default="60,600")
    ap.add_argument("--codec", default="toy")
    ap.add_argument("--rate-point", default="16")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/codecbench-bench-memory"))
    args = ap.parse_args()
    counts = [int(n) for n in args.frames.split(",")]
    data = make_clip(args.workdir / "data", max(counts))
    env = {**os.environ, "PYTHONPATH": f"{TOY}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    print(f"{'frames':>6} {'peak RSS MiB':>13} {'seconds':>8}  ({args.codec}, 1920x1080, PSNR-Y)")
    peaks = []
    for n in counts:
        out = args.workdir / f"run-{n}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        cmd = [sys.executable, "-m", "codecbench.cli", "run", "--codecs", args.codec, "--dataset", str(data),
               "--frames", str(n), "--metrics", "psnr_y", "--no-report", "--quiet", "--out", str(out),
               "--codec-opt", f"{args.codec}.rate_points={args.rate_point}"]  # fmt: skip
        peak, secs = peak_rss_mib(cmd, env)
        peaks.append(peak)
        print(f"{n:>6} {peak:>13.1f} {secs:>8.1f}")
    growth = peaks[-1] / peaks[0] - 1
    print(f"peak memory growth from {counts[0]} to {counts[-1]} frames: {growth:+.1%}")


if __name__ == "__main__":
    main()
