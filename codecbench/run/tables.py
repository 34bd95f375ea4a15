"""A run's tidy tables (results.csv and, when present, frames.csv and dataset_metrics.csv), read back.

They also own what a codec label means: its plugin, and which label an anchor name (a label or a
plugin name such as ``hevc``) stands for; ``bd``, the report and the leaderboard ask them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from codecbench.errors import CodecbenchError, InputFormatError
from codecbench.run.schema import RESULT_COLUMNS
from codecbench.run.store import RunStore

#: Columns of results.csv that are not metric values.
NON_METRIC_COLUMNS = frozenset(RESULT_COLUMNS) | {"stand_in", "notes"}
#: The least results.csv must hold to be plotted or compared.
REQUIRED_COLUMNS = ("codec", "dataset", "sequence", "bpp")
#: The codec BD values are measured against unless told otherwise (a label or a plugin name).
DEFAULT_ANCHOR = "hevc"


@dataclass
class RunTables:
    """The tables of one run; ``frames`` and ``dataset_metrics`` are None when absent."""

    run_dir: Path
    results: pd.DataFrame
    frames: pd.DataFrame | None = None
    dataset_metrics: pd.DataFrame | None = None
    #: Metrics the run did not compute, with the reason (from run.json, latest invocation).
    skipped_metrics: dict[str, str] = field(default_factory=dict)

    @property
    def metrics(self) -> list[str]:
        """Metric columns of results.csv (numeric columns that are not part of the schema)."""
        return [
            c
            for c in self.results.columns
            if c not in NON_METRIC_COLUMNS and pd.api.types.is_numeric_dtype(self.results[c])
        ]

    @property
    def dataset_metric_names(self) -> list[str]:
        if self.dataset_metrics is None or "metric" not in self.dataset_metrics:
            return []
        return sorted(set(self.dataset_metrics["metric"].astype(str)))

    @property
    def ok(self) -> pd.DataFrame:
        """Rows of jobs that succeeded."""
        if "status" not in self.results:
            return self.results
        return self.results[self.results["status"].fillna("ok").astype(str) == "ok"]

    @property
    def store(self) -> RunStore:
        """The run folder's files (read-only)."""
        return RunStore(self.run_dir, create=False)

    @property
    def plugins(self) -> dict[str, str]:
        """The plugin (entry-point name) of each codec label, e.g. ``divinr[tiny]`` -> ``divinr``."""
        if "codec_plugin" not in self.results:
            return {}
        labels, plugins = self.results["codec"].astype(str), self.results["codec_plugin"].astype(str)
        return dict(zip(labels, plugins, strict=True))

    def resolve_anchor(self, anchor: str, codecs: Iterable[str] | None = None) -> str:
        """The label among ``codecs`` (default: those of successful jobs) that ``anchor`` means:
        the label itself, or the only label of the plugin ``anchor``."""
        known = sorted({str(c) for c in (self.ok["codec"] if codecs is None else codecs)})
        if anchor in known:
            return anchor
        matches = sorted({label for label, plugin in self.plugins.items() if plugin == anchor} & set(known))
        if len(matches) == 1:
            return matches[0]
        raise CodecbenchError(
            f"anchor {anchor!r} is not among the codecs of these results: {', '.join(known)}"
        )

    @property
    def failed(self) -> pd.DataFrame:
        if "status" not in self.results:
            return self.results.iloc[0:0]
        return self.results[self.results["status"].fillna("ok").astype(str) != "ok"]


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, keep_default_na=True)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise InputFormatError(f"{path} is not a readable {what} CSV file: {e}") from e


def load_run(path: str | Path) -> RunTables:
    """Tables of the run whose folder, or whose results.csv, is ``path``."""
    path = Path(path)
    results_csv = RunStore(path, create=False).results_csv if path.is_dir() else path
    if not results_csv.is_file():
        raise CodecbenchError(f"no results file at {results_csv}")
    results = _read_csv(results_csv, "results")
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise InputFormatError(f"{results_csv} lacks the column(s) {', '.join(missing)}")
    tables = RunTables(results_csv.parent, results)
    store = tables.store
    if store.frames_csv.is_file():
        frames = _read_csv(store.frames_csv, "frames")
        if {"codec", "sequence", "frame", "metric", "value"} <= set(frames.columns):
            tables.frames = frames
    if store.dataset_metrics_csv.is_file():
        dm = _read_csv(store.dataset_metrics_csv, "dataset metrics")
        if {"codec", "dataset", "rate_point", "metric", "value", "bpp"} <= set(dm.columns):
            tables.dataset_metrics = dm
    tables.skipped_metrics = _skipped_metrics(store.run_log)
    return tables


def _skipped_metrics(path: Path) -> dict[str, str]:
    """``{metric: reason}`` of the latest invocation in run.json; empty when absent or unreadable."""
    try:
        skipped = json.loads(path.read_text())["runs"][-1]["skipped_metrics"]
        return {str(k): str(v) for k, v in skipped.items()}
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return {}
