"""Re-decoding the stored bitstreams of a run and checking them against its results.csv.

Anyone holding a published run folder can check that each number comes from its bitstream: the
file's size and SHA-256, and the SHA-256 of what it decodes to, must match the recorded row.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from codecbench import registry
from codecbench.codec import Codec
from codecbench.errors import CodecbenchError
from codecbench.progress import Progress
from codecbench.run.runner import decode_to_file
from codecbench.run.store import RunStore
from codecbench.video import Clip, VideoFormat
from codecbench.yuv import sha256_file


@dataclass(frozen=True)
class Mismatch:
    job_id: str
    what: str

    def __str__(self) -> str:
        return f"{self.job_id}: {self.what}"


def _codec_for(row: pd.Series, store: RunStore) -> Codec:
    record = store.record(str(row["job_id"]))
    if record is None:
        raise CodecbenchError(f"no job record {store.job_file(str(row['job_id']))}")
    return registry.create_codec(row["codec_plugin"], record.get("codec_options", {}))


def verify_run(root: Path | str, progress: bool = True) -> tuple[int, list[Mismatch]]:
    """Check every ok row of ``root/results.csv``; returns (rows checked, mismatches)."""
    store = RunStore(root, create=False)
    csv = store.results_csv
    if not csv.is_file():
        raise CodecbenchError(f"{root} has no results.csv: is it a codecbench run folder?")
    try:
        df = pd.read_csv(csv, dtype={"rate_point": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise CodecbenchError(f"{csv} is not a readable results table: {e}") from e
    rows = df[df["status"] == "ok"]
    problems: list[Mismatch] = []
    bar = Progress(len(rows), "verify", "bitstream", enabled=progress)
    for row in bar.each(row for _, row in rows.iterrows()):
        job = row["job_id"]
        path = store.inside(str(row["bitstream_path"]))
        if path is None:
            problems.append(Mismatch(job, f"bitstream path {row['bitstream_path']} leaves the run folder"))
            continue
        if not path.is_file():
            problems.append(Mismatch(job, f"bitstream {path} is missing"))
            continue
        size = path.stat().st_size
        if size != int(row["bytes"]):
            problems.append(Mismatch(job, f"bitstream has {size} bytes, results.csv says {row['bytes']}"))
        if sha256_file(path) != row["bitstream_sha256"]:
            problems.append(Mismatch(job, "bitstream SHA-256 differs from results.csv"))
            continue
        fmt = VideoFormat(int(row["width"]), int(row["height"]), int(row["bit_depth"]))
        clip = Clip(row["sequence"], path, fmt, float(row["fps"]), int(row["frames"]), row["dataset"])
        try:
            codec = _codec_for(row, store)
            with tempfile.TemporaryDirectory(prefix="codecbench-verify-") as tmp:
                sha = decode_to_file(codec, path, clip, Path(tmp) / "decoded.yuv", Path(tmp))
        except (CodecbenchError, OSError, ValueError) as e:
            problems.append(Mismatch(job, f"re-decoding failed: {e}"))
            continue
        if sha != row["decoded_sha256"]:
            problems.append(Mismatch(job, f"decoded SHA-256 {sha[:16]}… differs from results.csv"))
    return len(rows), problems
