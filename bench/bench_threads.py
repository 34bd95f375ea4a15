"""The thread budget measured: one DiV-INR encode alone and beside a busy process, and workers=2.

Every figure comes from ``codecbench run`` in a subprocess, as a user runs it; the encode time is
the job record's ``encode_seconds`` (the DiV-INR optimisation, without process start-up), the
throughput is jobs per minute of wall time of the whole run.

1. The same DiV-INR encode (sample/Clouds, ``--frames 8``, rate point ``m``) with each thread
   setting, (a) alone and (b) beside one CPU-bound process (a Python busy loop); (b)/(a) is the
   slowdown that one other user of the machine causes.
2. (c) Jobs per minute with ``--workers 1`` and ``--workers 2`` (each with its default budget,
   ``cores // workers``) for divinr, hevc and vvc on the sample.

Run it on an otherwise idle machine::

    python bench/bench_threads.py                  # everything (about 10 minutes on 2 cores)
    python bench/bench_threads.py --skip-workers   # part 1 only
    python bench/bench_threads.py --skip-encode --codecs divinr --full --frames 16   # (c) on the whole sample
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def busy_loop() -> None:
    """One CPU-bound process: what another user's job looks like to ours."""
    x = 0
    while True:
        x = (x * 1103515245 + 12345) % 2147483648


def codecbench(args: list[str], env: dict[str, str] | None = None) -> float:
    """Run ``codecbench ARGS``; returns its wall time, failing loudly on a non-zero exit."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "codecbench.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise SystemExit(f"codecbench {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def divinr_encode(out: Path, threads: int, frames: int, env: dict[str, str] | None = None) -> float:
    """Seconds of one DiV-INR encode (the record's ``encode_seconds``)."""
    codecbench(
        ["run", "--codecs", "divinr", "--dataset", "sample", "--sequences", "Clouds", "--frames", str(frames),
         "--codec-opt", "divinr.rate_points=m", "--metrics", "psnr_y", "--threads", str(threads),
         "--no-report", "--quiet", "--out", str(out)],
        env,
    )  # fmt: skip
    (record,) = [json.loads(p.read_text()) for p in (out / "jobs").glob("*.json")]
    return float(record["encode_seconds"])


def part_one(tmp: Path, frames: int, repeats: int) -> list[dict]:
    """(a) alone and (b) beside a busy process, for 1 and 2 threads per job."""
    rows = []
    for threads in (1, 2):
        for beside in (False, True):
            burner = mp.get_context("spawn").Process(target=busy_loop, daemon=True) if beside else None
            if burner:
                burner.start()
                time.sleep(1.0)
            try:
                times = [
                    divinr_encode(tmp / f"enc-{threads}-{beside}-{i}", threads, frames)
                    for i in range(repeats)
                ]
            finally:
                if burner:
                    burner.terminate()
                    burner.join()
            rows.append({"threads": threads, "beside_busy_process": beside, "encode_seconds": min(times)})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def part_two(tmp: Path, frames: int, codecs: list[str], full: bool) -> list[dict]:
    """(c) jobs per minute of one codec's sample grid with 1 and 2 workers (``full``: default ladders)."""
    grids = {
        "divinr": ["--codec-opt", "divinr.rate_points=s,m"],
        "hevc": ["--codec-opt", "hevc.rate_points=45,39,33,27"],
        "vvc": ["--codec-opt", "vvc.rate_points=45,39,33,27"],
    }
    rows = []
    for codec in codecs:
        opts = [] if full else grids[codec]
        jpm = {}
        for workers in (1, 2):
            out = tmp / f"grid-{codec}-{workers}"
            args = ["run", "--codecs", codec, "--dataset", "sample", "--frames", str(frames), *opts]
            args += [
                "--metrics",
                "psnr_y",
                "--workers",
                str(workers),
                "--no-report",
                "--quiet",
                "--out",
                str(out),
            ]
            wall = codecbench(args)
            jobs = len(list((out / "jobs").glob("*.json")))
            jpm[workers] = jobs / wall * 60
            rows.append({"codec": codec, "workers": workers, "jobs": jobs, "wall_seconds": round(wall, 1),
                         "jobs_per_minute": round(jpm[workers], 2)})  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
        print(json.dumps({"codec": codec, "speedup_workers_2": round(jpm[2] / jpm[1], 2)}), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=8, help="frames of the encoded clip")
    ap.add_argument("--repeats", type=int, default=2, help="best of N for each encode")
    ap.add_argument("--skip-workers", action="store_true", help="only part 1")
    ap.add_argument("--skip-encode", action="store_true", help="only part 2")
    ap.add_argument("--codecs", default="divinr,hevc,vvc", help="codecs of part 2")
    ap.add_argument("--full", action="store_true", help="part 2 on each codec's default ladder")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-threads-") as tmp:
        os.environ["CODECBENCH_CACHE"] = os.environ.get("CODECBENCH_CACHE", str(Path(tmp) / "cache"))
        if not a.skip_encode:
            rows = part_one(Path(tmp), a.frames, a.repeats)
            alone = {r["threads"]: r["encode_seconds"] for r in rows if not r["beside_busy_process"]}
            busy = {r["threads"]: r["encode_seconds"] for r in rows if r["beside_busy_process"]}
            for t in (1, 2):
                print(f"threads={t}: alone {alone[t]:.1f} s, beside a busy process {busy[t]:.1f} s "
                      f"({busy[t] / alone[t]:.2f}x)")  # fmt: skip
        if not a.skip_workers:
            part_two(Path(tmp), a.frames, a.codecs.split(","), a.full)


if __name__ == "__main__":
    main()
