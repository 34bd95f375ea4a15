"""Making a submission file from a run folder (results.csv, and dataset_metrics.csv when present)."""

from __future__ import annotations

import datetime as dt
import json
import math
import platform
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from codecbench import __version__, bd
from codecbench.errors import CodecbenchError
from codecbench.leaderboard.schema import ANCHOR_PLUGIN, FORMAT
from codecbench.report.data import RunTables


def _config(text: Any) -> Any:
    if isinstance(text, str) and text.strip():
        try:
            return json.loads(text)
        except ValueError:
            return text
    return {}


def _rows(df: pd.DataFrame, metrics: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "sequence": str(r["sequence"]),
            "rate_point": str(r["rate_point"]),
            "bytes": int(r["bytes"]),
            "bpp": float(r["bpp"]),
            "frames": int(r["frames"]),
            "width": int(r["width"]),
            "height": int(r["height"]),
            "metrics": {m: float(r[m]) for m in metrics},
        }
        for _, r in df.sort_values(["sequence", "bpp"]).iterrows()
    ]


def _dataset_metrics(tables: RunTables, codec: str, dataset: str) -> list[dict[str, Any]]:
    dm = tables.dataset_metrics
    if dm is None:
        return []
    dm = dm[(dm["codec"].astype(str) == codec) & (dm["dataset"].astype(str) == dataset)]
    return [
        {"metric": str(r["metric"]), "rate_point": str(r["rate_point"]), "bpp": float(r["bpp"]), "value": float(r["value"])}
        for _, r in dm.iterrows()
        if math.isfinite(float(r["value"])) and math.isfinite(float(r["bpp"]))
    ]  # fmt: skip


def _plugin_labels(ok: pd.DataFrame) -> dict[str, str]:
    if "codec_plugin" not in ok:
        return {}
    return dict(zip(ok["codec"].astype(str), ok["codec_plugin"].astype(str), strict=True))


def _environment(run_dir: Path) -> dict[str, Any]:
    """The environment the run recorded in run.json (its latest invocation), else this machine's."""
    try:
        runs = json.loads((run_dir / "run.json").read_text())["runs"]
        env = {str(k): str(v) for k, v in runs[-1]["environment"].items()}
        return env | {"recorded": "by codecbench run (run.json)"}
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "recorded": "at export time (the run folder has no run.json)",
        }


def make_submission(
    tables: RunTables, codec: str | None = None, dataset: str | None = None
) -> dict[str, Any]:
    """The submission of ``codec`` on ``dataset`` (each may be omitted when the run has only one),
    with the run's HEVC rows as its anchor. Metrics with a missing value anywhere are left out."""
    ok = tables.ok
    need = ["codec", "dataset", "sequence", "rate_point", "bytes", "bpp", "frames", "width", "height", "fps"]
    missing = [c for c in need if c not in ok.columns]
    if missing:
        raise CodecbenchError(f"results.csv lacks {', '.join(missing)}; cannot make a submission")
    plugins = _plugin_labels(ok)
    anchor = bd.resolve_anchor(list(ok["codec"].astype(str).unique()), ANCHOR_PLUGIN, plugins)
    datasets = sorted(ok["dataset"].astype(str).unique())
    if dataset is None:
        if len(datasets) != 1:
            raise CodecbenchError(f"the run has datasets {', '.join(datasets)}; pick one with --dataset")
        dataset = datasets[0]
    elif dataset not in datasets:
        raise CodecbenchError(f"dataset {dataset!r} is not in the run ({', '.join(datasets)})")
    ok = ok[ok["dataset"].astype(str) == dataset]
    others = sorted(set(ok["codec"].astype(str)) - {anchor})
    if codec is None:
        if len(others) != 1:
            raise CodecbenchError(
                f"the run has codecs {', '.join(others) or '(none)'}; pick one with --codec"
            )
        codec = others[0]
    elif codec not in set(ok["codec"].astype(str)):
        raise CodecbenchError(f"codec {codec!r} is not in the run's {dataset} results")
    test, ref = ok[ok["codec"].astype(str) == codec], ok[ok["codec"].astype(str) == anchor]
    sequences = sorted(set(test["sequence"].astype(str)))
    ref = ref[ref["sequence"].astype(str).isin(sequences)]
    if ref.empty:
        raise CodecbenchError(f"the anchor {anchor!r} has no results for the sequences of {codec!r}")
    metrics = [m for m in tables.metrics if test[m].notna().all() and len(ref) and ref[m].notna().all()]
    first = test.groupby("sequence").first()
    seq_info = [
        {"name": str(s), "width": int(r["width"]), "height": int(r["height"]), "frames": int(r["frames"]),
         "fps": float(r["fps"]), "bit_depth": int(r.get("bit_depth", 8))}
        for s, r in first.iterrows()
    ]  # fmt: skip

    def part(df: pd.DataFrame, label: str) -> dict[str, Any]:
        r0 = df.iloc[0]
        return {
            "name": label,
            "plugin": str(r0.get("codec_plugin", label)),
            "version": str(r0.get("codec_version", "")) or "unknown",
            "config": _config(r0.get("codec_config")),
        }

    return {
        "format": FORMAT,
        "codec": part(test, codec),
        "dataset": {"name": dataset, "sequences": seq_info},
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "codecbench_version": __version__,
        "environment": _environment(tables.run_dir),
        "metrics": metrics,
        "rows": _rows(test, metrics),
        "dataset_metrics": _dataset_metrics(tables, codec, dataset),
        "anchor": part(ref, anchor)
        | {"rows": _rows(ref, metrics), "dataset_metrics": _dataset_metrics(tables, anchor, dataset)},
    }
