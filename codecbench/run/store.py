"""The results store of a run folder: one JSON file per finished job, tidy CSV tables derived from them.

Every job is committed by writing its JSON record to a temporary file and renaming it into
``jobs/``, so a run killed at any moment (``kill -9`` included) leaves either the whole record or
none. ``results.csv``, ``frames.csv`` and ``dataset_metrics.csv`` are rebuilt from the records, under
a lock and by atomic rename, so two runs writing into one folder never corrupt them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from codecbench.atomic import atomic_write_text
from codecbench.errors import CodecbenchError
from codecbench.schema import DATASET_METRIC_COLUMNS, FRAME_COLUMNS, RESULT_COLUMNS


class RunStore:
    """The files of one run folder (``--out DIR``)."""

    def __init__(self, root: Path | str, create: bool = True) -> None:
        self.root = Path(root)
        if create:
            try:
                for sub in ("jobs", "bitstreams", "work", "snapshots", "features", ".locks"):
                    (self.root / sub).mkdir(parents=True, exist_ok=True)
                probe = self.root / ".locks" / f".probe-{os.getpid()}"
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as e:
                raise CodecbenchError(f"output folder {self.root} is not writable: {e.strerror or e}") from e
        elif not (self.root / "jobs").is_dir():
            raise CodecbenchError(f"{self.root} is not a codecbench run folder (no jobs/ inside)")

    @property
    def results_csv(self) -> Path:
        return self.root / "results.csv"

    def job_file(self, job_id: str) -> Path:
        return self.root / "jobs" / f"{job_id}.json"

    def workdir(self, job_id: str) -> Path:
        return self.root / "work" / job_id

    def job_lock(self, job_id: str) -> FileLock:
        return FileLock(str(self.root / ".locks" / f"{job_id}.lock"))

    def record(self, job_id: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.job_file(job_id).read_text())
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as e:
            raise CodecbenchError(f"unreadable job record {self.job_file(job_id)}: {e}") from e

    def is_done(self, job_id: str) -> bool:
        rec = self.record(job_id)
        return rec is not None and rec.get("status") == "ok"

    def commit(self, record: dict[str, Any]) -> None:
        """Atomically store one finished (or failed) job."""
        atomic_write_text(self.job_file(record["job_id"]), json.dumps(record, indent=1, default=str))

    def records(self) -> list[dict[str, Any]]:
        out = []
        for f in sorted((self.root / "jobs").glob("*.json")):
            try:
                out.append(json.loads(f.read_text()))
            except (OSError, json.JSONDecodeError) as e:
                raise CodecbenchError(f"unreadable job record {f}: {e}") from e
        return out

    def results_frame(self, records: Iterable[dict[str, Any]] | None = None) -> pd.DataFrame:
        """One row per job: the schema's columns first, then one column per metric."""
        records = self.records() if records is None else list(records)
        rows = [{**{c: r.get(c) for c in RESULT_COLUMNS}, **r.get("metrics", {})} for r in records]
        df = pd.DataFrame(rows)
        if df.empty:
            return pd.DataFrame(columns=RESULT_COLUMNS)
        metric_cols = sorted(c for c in df.columns if c not in RESULT_COLUMNS)
        df = df.sort_values(["codec", "dataset", "sequence", "bpp", "rate_point"], na_position="last")
        return df[RESULT_COLUMNS + metric_cols].reset_index(drop=True)

    def frames_frame(self, records: Iterable[dict[str, Any]] | None = None) -> pd.DataFrame:
        """One row per job, frame and metric."""
        records = self.records() if records is None else list(records)
        rows = [
            (r["codec"], r["dataset"], r["sequence"], r["rate_point"], i, metric, v)
            for r in records
            for metric, values in r.get("per_frame", {}).items()
            for i, v in enumerate(values)
        ]
        return pd.DataFrame(rows, columns=FRAME_COLUMNS)

    def write_tables(self, dataset_metrics: pd.DataFrame | None = None, wait: float = 60) -> None:
        """Rebuild the CSV tables from every committed record, under the folder's table lock."""
        try:
            with FileLock(str(self.root / ".locks" / "tables.lock"), timeout=wait):
                records = self.records()
                atomic_write_text(self.results_csv, self.results_frame(records).to_csv(index=False))
                atomic_write_text(self.root / "frames.csv", self.frames_frame(records).to_csv(index=False))
                if dataset_metrics is not None:
                    df = dataset_metrics.reindex(columns=DATASET_METRIC_COLUMNS)
                    atomic_write_text(self.root / "dataset_metrics.csv", df.to_csv(index=False))
        except Timeout as e:
            raise CodecbenchError(f"{self.root}: could not lock the result tables for {wait}s") from e
