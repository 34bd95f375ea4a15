"""``codecbench run``: encode, decode and measure every (codec, sequence, rate point) job."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codecbench.config import as_list, load_config
from codecbench.datasets import resolve
from codecbench.datasets.registry import DEFAULT_DATASET
from codecbench.errors import CodecbenchError
from codecbench.options import parse_assignments
from codecbench.run import run_benchmark
from codecbench.run.executors import EXECUTORS, get_executor
from codecbench.run.plan import plan
from codecbench.run.store import RunStore
from codecbench.run.tables import DEFAULT_ANCHOR
from codecbench.threads import apply_budget, default_threads, default_workers

DEFAULT_OUT = "codecbench-out"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run codecs on a dataset and measure them",
        description="Encode, decode and measure every (codec, sequence, rate point). Finished jobs in "
        "--out are kept: running the same command again resumes where it stopped.",
    )
    p.add_argument("--codecs", help="comma-separated codec names (see: codecbench list codecs)")
    p.add_argument(
        "--dataset",
        help=f"dataset name or folder of Name_WxH_FPS[_10bit].yuv files (default: {DEFAULT_DATASET})",
    )
    p.add_argument("--root", type=Path, help="where a named dataset's files are (default: its cache folder)")
    p.add_argument("--out", type=Path, help=f"run folder (default: ./{DEFAULT_OUT})")
    p.add_argument("--frames", type=int, help="use only the first N frames of every sequence")
    p.add_argument("--sequences", help="comma-separated sequence names to use")
    p.add_argument("--workers", type=int, help="jobs in parallel on this machine (default 2, 1 on one core)")
    p.add_argument(
        "--threads", type=int,
        help="threads per job for torch, encoders and libvmaf (default: cores // workers, at least 1)",
    )  # fmt: skip
    p.add_argument("--metrics", help="comma-separated metrics (default: every available one that fits)")
    p.add_argument(
        "--codec-opt", action="append", metavar="CODEC.KEY=VALUE",
        help="codec option, repeatable (e.g. hevc.preset=slow, hevc.rate_points=32,37,42,47)",
    )  # fmt: skip
    p.add_argument("--metric-opt", action="append", metavar="METRIC.KEY=VALUE", help="metric option")
    p.add_argument("--executor", help=f"where jobs run: {', '.join(EXECUTORS)} (default: local)")
    p.add_argument("--address", help="address of an existing cluster (ray); --workers is then ignored")
    p.add_argument(
        "--executor-opt", action="append", metavar="KEY=VALUE",
        help="executor option, repeatable (e.g. mode=stream, max_retries=5 for ray)",
    )  # fmt: skip
    p.add_argument("--anchor", help=f"anchor codec of the report's BD tables (default: {DEFAULT_ANCHOR})")
    p.add_argument("--no-report", action="store_true", help="do not write report.html at the end")
    p.add_argument("--config", type=Path, help="YAML or TOML file with these settings")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=main)


def _merge(args: argparse.Namespace) -> dict:
    cfg = load_config(args.config) if args.config else {}
    codec_opts = {k: dict(v) for k, v in cfg.get("codec_options", {}).items()}
    for owner, kv in parse_assignments(args.codec_opt).items():
        codec_opts.setdefault(owner, {}).update(kv)
    metric_opts = {k: dict(v) for k, v in cfg.get("metric_options", {}).items()}
    for owner, kv in parse_assignments(args.metric_opt).items():
        metric_opts.setdefault(owner, {}).update(kv)

    def pick(name: str, default=None):
        value = getattr(args, name, None)
        return value if value is not None else cfg.get(name, default)

    settings = {
        "codecs": as_list(pick("codecs")),
        "dataset": pick("dataset", DEFAULT_DATASET),
        "root": pick("root"),
        "out": Path(pick("out", DEFAULT_OUT)),
        "frames": pick("frames"),
        "sequences": as_list(pick("sequences")),
        "workers": int(pick("workers", default_workers())),
        "threads": pick("threads"),
        "metrics": as_list(pick("metrics")),
        "executor": pick("executor", "local"),
        "address": pick("address"),
        "anchor": pick("anchor", DEFAULT_ANCHOR),
        "report": not args.no_report and cfg.get("report", True),
        "codec_options": codec_opts,
        "metric_options": metric_opts,
        "executor_options": _executor_options(args.executor_opt, cfg.get("executor_options", {})),
    }
    if not settings["codecs"]:
        raise CodecbenchError("no codecs given: use --codecs A,B (see: codecbench list codecs)")
    if settings["frames"] is not None and int(settings["frames"]) < 1:
        raise CodecbenchError("--frames must be at least 1")
    if settings["workers"] < 1:
        raise CodecbenchError("--workers must be at least 1")
    if settings["threads"] is not None and int(settings["threads"]) < 1:
        raise CodecbenchError("--threads must be at least 1")
    return settings


def _executor_options(items: list[str] | None, configured: dict) -> dict:
    """``KEY=VALUE`` strings over the config file's ``executor_options``; numbers and booleans parsed."""
    out = dict(configured)
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CodecbenchError(f"executor option {item!r} must look like KEY=VALUE (e.g. mode=stream)")
        value = value.strip()
        if value.lower() in ("true", "false"):
            out[key.strip()] = value.lower() == "true"
        else:
            out[key.strip()] = int(value) if value.lstrip("-").isdigit() else value
    return out


def main(args: argparse.Namespace) -> int:
    s = _merge(args)
    # Jobs on an existing cluster get one thread each, as each of its tasks asks for one CPU.
    remote = s["executor"] != "local" and s["address"]
    threads = int(s["threads"] or (1 if remote else default_threads(s["workers"])))
    apply_budget(threads)  # before anything in this process loads torch or OpenMP
    selection = resolve(s["dataset"], s["root"], s["frames"], s["sequences"])
    the_plan = plan(
        s["codecs"], selection, s["codec_options"], s["metrics"], s["metric_options"], threads=threads
    )
    for name, reason in the_plan.skipped_metrics.items():
        print(f"metric {name} skipped: {reason}", file=sys.stderr)
    for name, info in the_plan.codecs.items():
        if not info["available"]:
            print(f"codec {name} unavailable, its jobs will fail: {info['reason']}", file=sys.stderr)
    executor_options: dict = {"workers": s["workers"], **s["executor_options"]}
    if s["address"]:
        executor_options["address"] = s["address"]
    executor = get_executor(s["executor"], **executor_options)
    print(
        f"{len(the_plan.jobs)} jobs: {len(the_plan.codecs)} codec(s) x {len(selection.clips)} sequence(s) "
        f"of {selection.dataset} x rate points, {s['workers']} at a time with {threads} thread(s) each; "
        f"metrics: {', '.join(the_plan.metrics) or 'none'}; "
        f"output: {s['out']}",
        file=sys.stderr,
    )
    summary = run_benchmark(the_plan, s["out"], executor, progress=not args.quiet, argv=sys.argv[1:])
    status = 0
    if s["report"]:
        status = _report(s["out"], s["anchor"])
    failed = summary.failed
    print(
        f"done: {len(summary.records) - len(failed)} ok, {len(failed)} failed, "
        f"{summary.skipped} already finished, {len(summary.busy)} held by another run; "
        f"results: {s['out'] / 'results.csv'}",
        file=sys.stderr,
    )
    for r in failed:
        first = str(r.get("error", "")).strip().splitlines()[:1]
        print(f"  failed {r['job_id']}: {first[0] if first else ''}", file=sys.stderr)
    return 1 if failed or summary.busy else status


def _report(out: Path, anchor: str) -> int:
    from codecbench.report import write_report

    try:
        path = write_report(out, RunStore(out, create=False).report_html, anchor=anchor)
    except CodecbenchError as e:
        print(f"report not written: {e}", file=sys.stderr)
        return 1
    print(f"report: {path}", file=sys.stderr)
    return 0
