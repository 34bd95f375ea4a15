"""Making a submission file from a run folder: results.csv, dataset_metrics.csv when present, the
job records (for the codec options that rebuild each decoder) and the bitstreams themselves."""

from __future__ import annotations

import datetime as dt
import json
import math
import platform
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from codecbench.errors import CodecbenchError
from codecbench.leaderboard.schema import ANCHOR_PLUGIN, FORMAT, Submission
from codecbench.leaderboard.store import BitstreamRef, bitstream_refs, check_bitstream, store_bitstream
from codecbench.run.store import RunStore
from codecbench.run.tables import RunTables
from codecbench.version import __version__

#: Job ids as the harness makes them (codecbench.run.jobs.Job.job_id); anything else is not a run's.
_JOB_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,300}$")


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
            "bitstream_sha256": str(r["bitstream_sha256"]),
            "decoded_sha256": str(r["decoded_sha256"]),
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


def _decoder(store: RunStore, df: pd.DataFrame, label: str) -> dict[str, Any]:
    """``{"options": ..., "suffix": ...}`` of ``label``'s jobs: the codec options of their job records
    (what ``registry.create_codec`` needs to rebuild the decoder) and their bitstreams' suffix."""
    options, suffixes = set(), set()
    for job_id, path in zip(df["job_id"].astype(str), df["bitstream_path"].astype(str), strict=True):
        if not _JOB_ID_RE.fullmatch(job_id):
            raise CodecbenchError(f"results.csv has a job id {job_id[:60]!r} that no codecbench run makes")
        record_file = store.job_file(job_id)
        try:
            opts = json.loads(record_file.read_text())["codec_options"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CodecbenchError(
                f"cannot read the codec options of {label} from {record_file} ({e}); "
                "a submission needs the run's jobs/ folder"
            ) from e
        if not isinstance(opts, dict):
            raise CodecbenchError(f"{record_file}: codec_options is not an object")
        options.add(json.dumps(opts, sort_keys=True))
        name = Path(path).name
        if not name.startswith(job_id):
            raise CodecbenchError(f"bitstream {path} of job {job_id} is not named after its job")
        suffixes.add(name[len(job_id) :])
    if len(options) != 1:
        raise CodecbenchError(f"the jobs of {label} ran with different codec options; a submission has one")
    if len(suffixes) != 1:
        raise CodecbenchError(
            f"the bitstreams of {label} have different suffixes: {', '.join(sorted(suffixes))}"
        )
    return {"options": json.loads(options.pop()), "suffix": suffixes.pop()}


def _run_date(df: pd.DataFrame) -> str:
    """When the exported jobs finished (the latest of them), else now."""
    done = pd.to_datetime(df["finished_at"], utc=True, errors="coerce") if "finished_at" in df else None
    if done is None or done.isna().all():
        return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return done.max().to_pydatetime().isoformat(timespec="seconds")


def _environment(store: RunStore) -> dict[str, Any]:
    """The environment the run recorded in run.json (its latest invocation), else this machine's."""
    try:
        runs = json.loads(store.run_log.read_text())["runs"]
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
    with the run's HEVC rows as its anchor, each row with its bitstream's and decoded frames'
    SHA-256. Metrics with a missing value anywhere are left out."""
    ok = tables.ok
    need = ["codec", "dataset", "sequence", "rate_point", "bytes", "bpp", "frames", "width", "height", "fps",
            "job_id", "bitstream_path", "bitstream_sha256", "decoded_sha256"]  # fmt: skip
    missing = [c for c in need if c not in ok.columns]
    if missing:
        raise CodecbenchError(f"results.csv lacks {', '.join(missing)}; cannot make a submission")
    anchor = tables.resolve_anchor(ANCHOR_PLUGIN)
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
    elif codec == anchor:
        raise CodecbenchError(
            f"{codec!r} is the anchor: every submission carries its rows; export the codecs compared with it"
        )
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
        } | _decoder(tables.store, df, label)

    return {
        "format": FORMAT,
        "codec": part(test, codec),
        "dataset": {"name": dataset, "sequences": seq_info},
        "date": _run_date(pd.concat([test, ref])),
        "codecbench_version": __version__,
        "environment": _environment(tables.store),
        "metrics": metrics,
        "rows": _rows(test, metrics),
        "dataset_metrics": _dataset_metrics(tables, codec, dataset),
        "anchor": part(ref, anchor)
        | {"rows": _rows(ref, metrics), "dataset_metrics": _dataset_metrics(tables, anchor, dataset)},
    }


def export_bitstreams(tables: RunTables, sub: Submission, folder: Path) -> int:
    """Copy every bitstream of ``sub`` from the run into ``folder`` as ``<sha256><suffix>``, each
    checked against its row (size and SHA-256) first; returns how many files it holds."""
    ok = tables.ok
    store = tables.store
    sources = {
        str(sha): store.inside(str(path))
        for sha, path in zip(ok["bitstream_sha256"], ok["bitstream_path"], strict=True)
    }
    refs: dict[str, BitstreamRef] = {r.name: r for r in bitstream_refs(sub)}
    problems = []
    for ref in refs.values():
        src = sources.get(ref.sha256)
        if src is None:
            problems.append(f"{ref.row}: no bitstream of the run has this row's SHA-256")
        elif problem := check_bitstream(src, ref):
            problems.append(problem)
    if problems:
        raise CodecbenchError(
            f"the run's bitstreams do not match its results (check it with codecbench verify {tables.run_dir}):\n  "
            + "\n  ".join(problems[:20])
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, ref in refs.items():
            store_bitstream(sources[ref.sha256], folder / name, ref)
    except OSError as e:
        raise CodecbenchError(f"cannot write the bitstreams to {folder}: {e.strerror or e}") from e
    return len(refs)
