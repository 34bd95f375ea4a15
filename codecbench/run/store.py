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
from typing import TYPE_CHECKING, Any

import pandas as pd
from filelock import FileLock, Timeout

from codecbench.atomic import atomic_write_text
from codecbench.errors import CodecbenchError
from codecbench.run.schema import DATASET_METRIC_COLUMNS, FRAME_COLUMNS, RESULT_COLUMNS
from codecbench.slugs import slug

if TYPE_CHECKING:
    from codecbench.run.jobs import Job


#: Sub-folders of a run folder.
JOBS, BITSTREAMS, WORK, SNAPSHOTS, FEATURES, LOCKS = (
    "jobs",
    "bitstreams",
    "work",
    "snapshots",
    "features",
    ".locks",
)


class RunStore:
    """The files of one run folder (``--out DIR``): the one place that knows where each lives.

    ``create=True`` (a run writing into the folder) makes the sub-folders and checks the folder is
    writable; ``create=False`` is a read-only view (reports, verify, exports), which checks nothing.
    Paths stored in records and results.csv are relative to the folder (:meth:`relative`) and are
    read back through :meth:`inside`, which refuses any that leaves it.
    """

    def __init__(self, root: Path | str, create: bool = True) -> None:
        self.root = Path(root)
        if create:
            try:
                for sub in (JOBS, BITSTREAMS, WORK, SNAPSHOTS, FEATURES, LOCKS):
                    (self.root / sub).mkdir(parents=True, exist_ok=True)
                probe = self.root / LOCKS / f".probe-{os.getpid()}"
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as e:
                raise CodecbenchError(f"output folder {self.root} is not writable: {e.strerror or e}") from e

    # --- the tables and the run log

    @property
    def results_csv(self) -> Path:
        return self.root / "results.csv"

    @property
    def frames_csv(self) -> Path:
        return self.root / "frames.csv"

    @property
    def dataset_metrics_csv(self) -> Path:
        return self.root / "dataset_metrics.csv"

    @property
    def run_log(self) -> Path:
        """``run.json``: one entry per invocation of ``codecbench run`` on this folder."""
        return self.root / "run.json"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    # --- per job

    def job_file(self, job_id: str) -> Path:
        return self.root / JOBS / f"{job_id}.json"

    def workdir(self, job_id: str) -> Path:
        return self.root / WORK / job_id

    def decoded_file(self, job_id: str) -> Path:
        """The job's decoded frames (raw YUV), inside its work folder."""
        return self.workdir(job_id) / "decoded.yuv"

    def bitstream_file(self, job: Job, suffix: str) -> Path:
        """Where ``job``'s bitstream is kept: ``bitstreams/CODEC/DATASET/SEQUENCE/JOB_ID+suffix``."""
        folder = self.root / BITSTREAMS / slug(job.codec) / slug(job.clip.dataset) / slug(job.clip.name)
        return folder / f"{job.job_id}{suffix}"

    def snapshot_file(self, job_id: str) -> Path:
        """PNG of the job's decoded middle frame."""
        return self.root / SNAPSHOTS / f"{job_id}.png"

    def reference_snapshot(self, dataset: str, sequence: str) -> Path:
        """PNG of a source sequence's middle frame, shared by every job of that sequence."""
        return self.root / SNAPSHOTS / "reference" / str(dataset) / f"{sequence}.png"

    def features_dir(self, job_id: str) -> Path:
        """Features of the job's distribution metrics (FID, KID), one ``METRIC.npz`` each."""
        return self.root / FEATURES / job_id

    def features_file(self, job_id: str, metric: str) -> Path:
        return self.features_dir(job_id) / f"{metric}.npz"

    # --- locks

    def lock_file(self, name: str) -> Path:
        """A file under the folder's lock folder (locks, markers)."""
        return self.root / LOCKS / name

    def job_lock(self, job_id: str) -> FileLock:
        return FileLock(str(self.lock_file(f"{job_id}.lock")))

    # --- paths as records hold them

    def relative(self, path: Path) -> str:
        """``path`` (inside the folder) as records and results.csv hold it."""
        return str(Path(path).relative_to(self.root))

    def inside(self, relative: object) -> Path | None:
        """The path a record holds, resolved, if it is relative and stays inside the folder; else None."""
        if not isinstance(relative, str) or not relative.strip() or Path(relative).is_absolute():
            return None
        path = (self.root / relative).resolve()
        return path if path.is_relative_to(self.root.resolve()) else None

    # --- job records

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
        for f in sorted((self.root / JOBS).glob("*.json")):
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
            with FileLock(str(self.lock_file("tables.lock")), timeout=wait):
                records = self.records()
                atomic_write_text(self.results_csv, self.results_frame(records).to_csv(index=False))
                atomic_write_text(self.frames_csv, self.frames_frame(records).to_csv(index=False))
                if dataset_metrics is not None:
                    df = dataset_metrics.reindex(columns=DATASET_METRIC_COLUMNS)
                    atomic_write_text(self.dataset_metrics_csv, df.to_csv(index=False))
        except Timeout as e:
            raise CodecbenchError(f"{self.root}: could not lock the result tables for {wait}s") from e
