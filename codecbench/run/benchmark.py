"""A benchmark run: run a plan's jobs, and write the tables and the run log.

The same plan and folder give the same jobs, so a run that was killed and started again skips
what is finished and redoes only the rest.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock

from codecbench import registry
from codecbench.atomic import atomic_write_text
from codecbench.progress import EtaModel, Progress
from codecbench.run.executors import Executor, LocalExecutor
from codecbench.run.jobs import Job
from codecbench.run.plan import Plan
from codecbench.run.store import RunStore
from codecbench.threads import available_cores
from codecbench.version import __version__


@dataclass
class Summary:
    """What a run did: records of its jobs, and the ones another run was holding."""

    records: list[dict[str, Any]]
    busy: list[str]
    skipped: int

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("status") != "ok"]


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


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _update_run_log(store: RunStore, change: Any) -> Any:
    """Apply ``change`` to the parsed ``run.json`` under its lock and write it back atomically."""
    path = store.run_log
    with FileLock(str(store.lock_file("run.json.lock"))):
        history = json.loads(path.read_text()) if path.exists() else {"runs": []}
        result = change(history)
        atomic_write_text(path, json.dumps(history, indent=1))
    return result


def _finish_run(store: RunStore, invocation: str, outcome: str, counts: dict[str, int]) -> None:
    """Record the end time and outcome of one invocation in ``run.json``."""

    def change(history: dict) -> None:
        for entry in history["runs"]:
            if entry.get("invocation") == invocation:
                entry.update(finished_at=_now(), outcome=outcome, jobs=counts)

    _update_run_log(store, change)


def _log_run(store: RunStore, plan: Plan, argv: list[str] | None, executor: Executor) -> str:
    """Append this invocation to ``run.json``; returns its id."""
    invocation = uuid.uuid4().hex[:12]

    def change(history: dict) -> None:
        history["runs"].append(
            {
                "invocation": invocation,
                "started_at": _now(),
                "threads": {
                    "per_job": plan.threads,
                    "workers": getattr(executor, "workers", 1),
                    "executor": executor.name,
                    "cores": available_cores(),
                },
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

    _update_run_log(store, change)
    return invocation


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
                files = [store.features_file(j, name) for j in group["job_id"]]
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


def interleave(jobs: list[Job]) -> list[Job]:
    """Jobs taken in turn from each codec, so every codec's cost is known early (for the ETA)."""
    by_codec: dict[str, list[Job]] = {}
    for job in jobs:
        by_codec.setdefault(job.codec, []).append(job)
    queues = list(by_codec.values())
    out = []
    while any(queues):
        for queue in queues:
            if queue:
                out.append(queue.pop(0))
    return out


def run_benchmark(
    the_plan: Plan,
    out: Path | str,
    executor: Executor | None = None,
    progress: bool = True,
    argv: list[str] | None = None,
    table_interval: float = 5.0,
) -> Summary:
    """Run every job of ``the_plan`` not yet finished in ``out``; rebuild the tables as jobs finish.

    ``run.json`` records the invocation, its thread budget, and its end time and outcome (also
    when interrupted).
    """
    store = RunStore(out)
    executor = executor or LocalExecutor()
    invocation = _log_run(store, the_plan, argv, executor)
    store.write_tables()
    todo = interleave([j for j in the_plan.jobs if not store.is_done(j.job_id)])
    skipped = len(the_plan.jobs) - len(todo)
    records, busy = [store.record(j.job_id) for j in the_plan.jobs if store.is_done(j.job_id)], []
    eta = EtaModel(j.codec for j in todo)
    bar = Progress(len(the_plan.jobs), "codecbench", "jobs", enabled=progress)
    bar.update(skipped, postfix=eta.describe(0.0))
    last, started, outcome = time.monotonic(), time.monotonic(), "interrupted"
    try:
        for job, record in executor.map(todo, store.root):
            if record is None:
                busy.append(job.job_id)
                eta.observe(job.codec, None)
                bar.write(f"skipped {job.job_id}: another run is working on it")
            else:
                records.append(record)
                eta.observe(job.codec, record.get("job_seconds"))
                if record.get("status") != "ok":
                    first = str(record.get("error", "")).strip().splitlines()[:1]
                    bar.write(f"FAILED {job.job_id}: {first[0] if first else 'unknown error'}")
            bar.update(1, postfix=eta.describe(time.monotonic() - started))
            if time.monotonic() - last > table_interval:
                store.write_tables()
                last = time.monotonic()
        failed = sum(1 for r in records if r is not None and r.get("status") != "ok")
        outcome = "failed jobs" if failed else "held by another run" if busy else "ok"
    except BaseException as e:
        outcome = "interrupted" if isinstance(e, KeyboardInterrupt) else f"error: {type(e).__name__}: {e}"
        raise
    finally:
        bar.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            store.write_tables(aggregate_distribution_metrics(store, the_plan.metrics))
        done = [r for r in records if r is not None]
        counts = {
            "planned": len(the_plan.jobs),
            "already_finished": skipped,
            "ok": sum(1 for r in done if r.get("status") == "ok") - skipped,
            "failed": sum(1 for r in done if r.get("status") != "ok"),
            "held_by_another_run": len(busy),
        }
        _finish_run(store, invocation, outcome, counts)
    return Summary([r for r in records if r is not None], busy, skipped)
