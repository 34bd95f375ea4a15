"""Speed-up of the job grid with 1 and 2 workers, local executor against Ray, on the sample dataset.

Each configuration runs the same plan into a fresh run folder and is timed in two parts: starting
the executor's machinery (for Ray: ``ray.init`` of a local cluster with ``workers`` CPUs) and the
jobs themselves (``run_benchmark``, worker start-up included). The runs must give the same results
apart from timings; the script checks that and fails otherwise.

    python bench/bench_executors.py                       # hevc on the sample, 16 frames
    python bench/bench_executors.py --codecs toy --codec-opt toy.sleep=0.05   # with the test plugin
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from codecbench.datasets import resolve
from codecbench.options import parse_assignments
from codecbench.run import run_benchmark
from codecbench.run.executors import LocalExecutor
from codecbench.run.plan import plan

TIMING = ["encode_seconds", "decode_seconds", "finished_at"]


def run_one(executor: str, workers: int, the_plan, out: Path) -> dict:
    """Time one configuration; returns its figures."""
    start = time.perf_counter()
    if executor == "ray":
        import ray

        from codecbench.run.executors.ray_cluster import RayExecutor

        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        ex = RayExecutor(workers=workers)
    else:
        ex = LocalExecutor(workers=workers)
    ready = time.perf_counter()
    try:
        summary = run_benchmark(the_plan, out, ex, progress=False)
    finally:
        if executor == "ray":
            ray.shutdown()
    end = time.perf_counter()
    if summary.failed or len(summary.records) != len(the_plan.jobs):
        raise SystemExit(f"{executor} x{workers}: {len(summary.failed)} failed jobs")
    return {
        "executor": executor,
        "workers": workers,
        "jobs": len(the_plan.jobs),
        "startup_s": round(ready - start, 2),
        "jobs_s": round(end - ready, 2),
        "total_s": round(end - start, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--codecs", default="hevc")
    ap.add_argument("--codec-opt", action="append", metavar="CODEC.KEY=VALUE")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--metrics", default="psnr_y")
    ap.add_argument("--executors", default="local,ray")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    selection = resolve("sample", frames=args.frames)
    the_plan = plan(
        args.codecs.split(","), selection, parse_assignments(args.codec_opt), args.metrics.split(",")
    )
    rows, tables = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-executors-") as tmp:
        for executor in args.executors.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                out = Path(tmp) / f"{executor}-{workers}"
                rows.append(run_one(executor, workers, the_plan, out))
                tables[out.name] = pd.read_csv(out / "results.csv").drop(columns=TIMING)
                print(json.dumps(rows[-1]), flush=True)
        first = next(iter(tables.values()))
        for name, table in tables.items():
            pd.testing.assert_frame_equal(first, table, obj=f"results of {name}")
    df = pd.DataFrame(rows)
    base = df.set_index(["executor", "workers"])["jobs_s"]
    df["speedup_vs_local1"] = [
        round(base[("local", 1)] / s, 2) if ("local", 1) in base else None for s in df["jobs_s"]
    ]
    print(
        f"\n{len(the_plan.jobs)} jobs ({args.codecs} on sample, {args.frames} frames), "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; results identical across runs"
    )
    print(df.to_string(index=False))
    if args.json:
        args.json.write_text(df.to_json(orient="records", indent=1))


if __name__ == "__main__":
    main()
