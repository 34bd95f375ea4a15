"""A benchmark run: plan the (codec x sequence x rate point) grid, run it, and write the tables.

The same plan and folder give the same jobs, so a run that was killed and started again skips
what is finished and redoes only the rest.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock
from tqdm.auto import tqdm

from codecbench import __version__, registry
from codecbench.datasets import Selection
from codecbench.errors import CodecbenchError, UnknownNameError
from codecbench.executors import Executor, LocalExecutor
from codecbench.jobs import Job
from codecbench.store import RunStore, atomic_write_text

RATE_POINTS_KEY = "rate_points"


@dataclass
class Plan:
    """The jobs of a run and what was decided while making them."""

    selection: Selection
    jobs: list[Job]
    metrics: list[str]
    #: metric name -> why it is not computed (unavailable, does not fit the dataset's size).
    skipped_metrics: dict[str, str] = field(default_factory=dict)
    #: codec name -> {"label", "version", "available", "reason", "rate_points"}.
    codecs: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Summary:
    """What a run did: records of its jobs, and the ones another run was holding."""

    records: list[dict[str, Any]]
    busy: list[str]
    skipped: int

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("status") != "ok"]


def choose_metrics(
    requested: list[str] | None, selection: Selection, options: dict[str, dict[str, Any]]
) -> tuple[list[str], dict[str, str]]:
    """Metrics to compute and the skipped ones with reasons.

    Explicitly requested metrics that cannot run are skipped with their reason (the run goes on);
    by default every registered metric that is available and fits every clip is used.
    """
    names = requested if requested else registry.metric_names()
    chosen, skipped = [], {}
    for name in names:
        try:
            metric = registry.create_metric(name, options.get(name, {}))
        except UnknownNameError:
            raise
        except CodecbenchError as e:
            skipped[name] = str(e)
            continue
        avail = metric.available()
        if not avail:
            skipped[name] = f"unavailable: {avail.reason}"
        elif not all(metric.fits(c.format) for c in selection.clips):
            skipped[name] = f"does not fit the frame size of dataset {selection.dataset}"
        else:
            chosen.append(name)
    return chosen, skipped


def plan(
    codecs: list[str],
    selection: Selection,
    codec_options: dict[str, dict[str, Any]] | None = None,
    metrics: list[str] | None = None,
    metric_options: dict[str, dict[str, Any]] | None = None,
) -> Plan:
    """Resolve codecs, their rate points and the metrics into the list of jobs."""
    codec_options = {k: dict(v) for k, v in (codec_options or {}).items()}
    metric_options = metric_options or {}
    unknown_owner = set(codec_options) - set(codecs)
    if unknown_owner:
        raise CodecbenchError(
            f"--codec-opt names codec(s) not in --codecs: {', '.join(sorted(unknown_owner))}"
        )
    built = {}
    for name in codecs:  # unknown names and options fail here, before any work
        opts = codec_options.get(name, {})
        ladder = opts.pop(RATE_POINTS_KEY, None)
        built[name] = (registry.create_codec(name, opts), opts, ladder)
    chosen, skipped = choose_metrics(metrics, selection, metric_options)
    jobs, info = [], {}
    for name, (codec, opts, ladder) in built.items():
        points = [p.strip() for p in str(ladder).split(",") if p.strip()] if ladder else None
        points = points or codec.default_rate_points()
        for p in points:
            codec.check_rate_point(p)
        avail = codec.available()
        info[name] = {
            "label": codec.label,
            "version": codec.version,
            "available": avail.ok,
            "reason": avail.reason,
            "rate_points": points,
        }
        config = codec.config_json()
        for clip in selection.clips:
            for p in points:
                jobs.append(Job(name, opts, config, p, clip, tuple(chosen), metric_options))
    return Plan(selection, jobs, chosen, skipped, info)


def _environment() -> dict[str, str]:
    """Versions that matter for reproducing a run; torch is not imported just to ask."""
    from importlib.metadata import PackageNotFoundError, version

    env = {"python": sys.version.split()[0], "platform": platform.platform(), "codecbench": __version__}
    for package in ("torch", "numpy", "imageio-ffmpeg"):
        try:
            env[package] = version(package)
        except PackageNotFoundError:
            pass
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        env["cuda"] = torch.cuda.get_device_name(0)
    return env


def _log_run(store: RunStore, plan: Plan, argv: list[str] | None) -> None:
    path = store.root / "run.json"
    with FileLock(str(store.root / ".locks" / "run.json.lock")):
        history = json.loads(path.read_text()) if path.exists() else {"runs": []}
        history["runs"].append(
            {
                "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "argv": argv or [],
                "dataset": plan.selection.dataset,
                "sequences": [c.name for c in plan.selection.clips],
                "frames": {c.name: c.frames for c in plan.selection.clips},
                "codecs": plan.codecs,
                "metrics": plan.metrics,
                "skipped_metrics": plan.skipped_metrics,
                "environment": _environment(),
            }
        )
        atomic_write_text(path, json.dumps(history, indent=1))


def aggregate_distribution_metrics(store: RunStore, metrics: list[str]) -> pd.DataFrame:
    """FID-like metrics over each (codec, dataset, rate point), from the features saved per job."""
    dist = [m for m in metrics if registry.metric_class(m).kind == "distribution"]
    rows = []
    if dist:
        ok = pd.DataFrame([r for r in store.records() if r.get("status") == "ok"])
        for name in dist:
            metric = registry.create_metric(name)
            if ok.empty:
                break
            for (codec, dataset, rp), group in ok.groupby(["codec", "dataset", "rate_point"]):
                files = [store.root / "features" / j / f"{name}.npz" for j in group["job_id"]]
                present = [f for f in files if f.is_file()]
                if not present:
                    continue
                feats = []
                for f in present:
                    with np.load(f) as z:
                        feats.append({k: z[k] for k in z.files})
                rows.append(
                    {
                        "codec": codec,
                        "dataset": dataset,
                        "rate_point": rp,
                        "metric": name,
                        "value": metric.aggregate(feats),
                        "bpp": float(group["bpp"].mean()),
                        "sequences": len(present),
                    }
                )
    return pd.DataFrame(rows)


def run_benchmark(
    the_plan: Plan,
    out: Path | str,
    executor: Executor | None = None,
    progress: bool = True,
    argv: list[str] | None = None,
    table_interval: float = 5.0,
) -> Summary:
    """Run every job of ``the_plan`` not yet finished in ``out``; rebuild the tables as jobs finish."""
    store = RunStore(out)
    executor = executor or LocalExecutor()
    _log_run(store, the_plan, argv)
    store.write_tables()
    todo = [j for j in the_plan.jobs if not store.is_done(j.job_id)]
    skipped = len(the_plan.jobs) - len(todo)
    records, busy = [store.record(j.job_id) for j in the_plan.jobs if store.is_done(j.job_id)], []
    bar = tqdm(total=len(the_plan.jobs), initial=skipped, unit="job", desc="codecbench", disable=not progress)
    last = time.monotonic()
    try:
        for job, record in executor.map(todo, store.root):
            bar.update(1)
            if record is None:
                busy.append(job.job_id)
                bar.write(f"skipped {job.job_id}: another run is working on it")
                continue
            records.append(record)
            if record.get("status") != "ok":
                first = str(record.get("error", "")).strip().splitlines()[:1]
                bar.write(f"FAILED {job.job_id}: {first[0] if first else 'unknown error'}")
            if time.monotonic() - last > table_interval:
                store.write_tables()
                last = time.monotonic()
    finally:
        bar.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            store.write_tables(aggregate_distribution_metrics(store, the_plan.metrics))
    return Summary([r for r in records if r is not None], busy, skipped)
