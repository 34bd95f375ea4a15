"""Loading a run's tidy tables (results.csv and, when present, frames.csv and dataset_metrics.csv)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from codecbench.errors import CodecbenchError, InputFormatError
from codecbench.schema import RESULT_COLUMNS

#: Columns of results.csv that are not metric values.
NON_METRIC_COLUMNS = frozenset(RESULT_COLUMNS) | {"stand_in", "notes"}
#: The least results.csv must hold to be plotted or compared.
REQUIRED_COLUMNS = ("codec", "dataset", "sequence", "bpp")


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
    results_csv = path / "results.csv" if path.is_dir() else path
    if not results_csv.is_file():
        raise CodecbenchError(f"no results file at {results_csv}")
    results = _read_csv(results_csv, "results")
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise InputFormatError(f"{results_csv} lacks the column(s) {', '.join(missing)}")
    run_dir = results_csv.parent
    tables = RunTables(run_dir, results)
    if (run_dir / "frames.csv").is_file():
        frames = _read_csv(run_dir / "frames.csv", "frames")
        if {"codec", "sequence", "frame", "metric", "value"} <= set(frames.columns):
            tables.frames = frames
    if (run_dir / "dataset_metrics.csv").is_file():
        dm = _read_csv(run_dir / "dataset_metrics.csv", "dataset metrics")
        if {"codec", "dataset", "rate_point", "metric", "value", "bpp"} <= set(dm.columns):
            tables.dataset_metrics = dm
    tables.skipped_metrics = _skipped_metrics(run_dir / "run.json")
    return tables


def _skipped_metrics(path: Path) -> dict[str, str]:
    """``{metric: reason}`` of the latest invocation in run.json; empty when absent or unreadable."""
    try:
        skipped = json.loads(path.read_text())["runs"][-1]["skipped_metrics"]
        return {str(k): str(v) for k, v in skipped.items()}
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return {}
