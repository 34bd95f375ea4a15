"""Running one job: encode, store the bitstream, decode, measure, commit one record.

:func:`run_job` is a plain function of a :class:`~codecbench.run.jobs.Job` and a run folder, so any
executor (in-process, a process pool, a Ray cluster) can run it and get the same record.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
from filelock import Timeout

from codecbench import registry
from codecbench.atomic import atomic_path
from codecbench.codec import Codec
from codecbench.errors import CodecbenchError, CodecUnavailableError
from codecbench.metrics.base import Metric
from codecbench.metrics.frames import evaluate_frame_metrics
from codecbench.run.jobs import Job
from codecbench.run.store import RunStore
from codecbench.threads import apply_budget, job_threads
from codecbench.video import Clip
from codecbench.yuv import YuvWriter, sha256_file, yuv_to_rgb


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _save_png(rgb: np.ndarray, path: Path) -> None:
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(np.rint(rgb * 255).astype(np.uint8)).save(tmp, format="PNG")


def snapshot(clip: Clip, path: Path) -> None:
    """Save the middle frame of ``clip`` as an RGB PNG (for the report's visual comparison)."""
    frame = next(clip.read(start=clip.frames // 2, count=1))
    _save_png(yuv_to_rgb(frame, clip.format), path)


def _base_record(job: Job, codec: Codec | None) -> dict[str, Any]:
    clip = job.clip
    return {
        "job_id": job.job_id,
        "codec": codec.label if codec else job.codec,
        "codec_plugin": job.codec,
        "codec_version": codec.version if codec else "",
        "codec_config": job.codec_config,
        "codec_options": job.codec_options,
        "dataset": clip.dataset,
        "sequence": clip.name,
        "rate_point": job.rate_point,
        "rate_parameter": codec.rate_parameter if codec else "",
        "width": clip.format.width,
        "height": clip.format.height,
        "bit_depth": clip.format.bit_depth,
        "fps": clip.fps,
        "frames": clip.frames,
        "source_path": str(clip.path),
    }


def decode_to_file(codec: Codec, bitstream: Path, clip: Clip, out: Path, workdir: Path) -> str:
    """Decode ``bitstream`` into the raw YUV file ``out``, checking format and frame count; returns its SHA-256."""
    with YuvWriter(out, clip.format) as w:
        for frame in codec.decode(bitstream, workdir):
            if w.frames >= clip.frames:
                raise CodecbenchError(f"{codec.name} decoded more than the {clip.frames} frames encoded")
            w.write(frame)
    if w.frames != clip.frames:
        raise CodecbenchError(f"{codec.name} decoded {w.frames} frames, expected {clip.frames}")
    return w.sha256


def execute(job: Job, store: RunStore) -> dict[str, Any]:
    """Run ``job`` and return its record (not yet committed); raises on any failure."""
    started = time.perf_counter()
    codec = registry.create_codec(job.codec, job.codec_options)
    budget = 1 if codec.single_threaded else job.threads or job_threads()
    apply_budget(budget)
    record = _base_record(job, codec)
    avail = codec.available()
    if not avail:
        raise CodecUnavailableError(f"codec {codec.name} unavailable: {avail.reason}")
    clip = job.clip
    codec.check_format(clip.format)
    codec.check_rate_point(job.rate_point)
    work = store.workdir(job.job_id)
    work.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    produced = Path(codec.encode(clip, job.rate_point, work))
    encode_seconds = time.perf_counter() - t0
    details = codec.encode_details()
    if not produced.is_file() or produced.stat().st_size == 0:
        raise CodecbenchError(f"{codec.name} wrote no bitstream (or an empty one) at {produced}")
    bitstream = store.bitstream_file(job, codec.bitstream_suffix)
    bitstream.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(produced, bitstream)
    nbytes = bitstream.stat().st_size

    decoded_path = store.decoded_file(job.job_id)
    t0 = time.perf_counter()
    decoded_sha = decode_to_file(codec, bitstream, clip, decoded_path, work)
    decode_seconds = time.perf_counter() - t0
    decoded = Clip(clip.name, decoded_path, clip.format, clip.fps, clip.frames, clip.dataset)

    snap = store.snapshot_file(job.job_id)
    snapshot(decoded, snap)
    ref_snap = store.reference_snapshot(clip.dataset, clip.name)
    if not ref_snap.exists():
        snapshot(clip, ref_snap)

    metrics: dict[str, float] = {}
    per_frame: dict[str, list[float]] = {}
    frame_metrics: list[tuple[str, Metric]] = []
    for name in job.metrics:
        metric = registry.create_metric(name, job.metric_options.get(name, {}))
        if metric.kind == "distribution":
            feats = metric.features(clip, decoded)
            target = store.features_file(job.job_id, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            np.savez(target, **feats)
            continue
        frame_metrics.append((name, metric))
    # One read (and one RGB conversion) of each frame pair for all the metrics that allow it.
    scored = evaluate_frame_metrics([m for _, m in frame_metrics], clip, decoded)
    for (name, metric), values in zip(frame_metrics, scored, strict=True):
        metrics[name] = metric.summarize(values)
        per_frame[name] = values.tolist()

    pixels = clip.format.pixels * clip.frames
    record.update(
        bytes=nbytes,
        bpp=nbytes * 8 / pixels,
        kbps=nbytes * 8 / (clip.frames / clip.fps) / 1000,
        encode_seconds=round(encode_seconds, 4),
        decode_seconds=round(decode_seconds, 4),
        bitstream_path=store.relative(bitstream),
        bitstream_sha256=sha256_file(bitstream),
        decoded_sha256=decoded_sha,
        snapshot_path=store.relative(snap),
        metrics=metrics,
        per_frame=per_frame,
        encode_details=details,
        threads=apply_budget(budget),
        job_seconds=round(time.perf_counter() - started, 4),
        status="ok",
        error="",
        finished_at=_now(),
    )
    return record


def run_job(job: Job, root: Path | str) -> dict[str, Any] | None:
    """Run and commit ``job`` in the run folder ``root``, unless it is done or running elsewhere.

    Returns the committed record, the existing record when the job was already done, or None when
    another process holds the job. Failures are committed as records with status "failed".
    """
    store = RunStore(root)
    lock = store.job_lock(job.job_id)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return None
    try:
        existing = store.record(job.job_id)
        if existing is not None and existing.get("status") == "ok":
            return existing
        try:
            record = execute(job, store)
        except KeyboardInterrupt:
            raise
        except Exception as e:
            record = failure_record(job, e)
        store.commit(record)
        if record["status"] == "ok":
            shutil.rmtree(store.workdir(job.job_id), ignore_errors=True)
        else:
            store.decoded_file(job.job_id).unlink(missing_ok=True)
        return record
    finally:
        lock.release()


def failure_record(job: Job, e: Exception) -> dict[str, Any]:
    """The record of a job that failed with ``e``: its identity, status "failed" and the error."""
    record = _base_record(job, None)
    if isinstance(e, CodecbenchError):
        message = str(e)
    else:
        message = "".join(traceback.format_exception(type(e), e, e.__traceback__)[-6:]).strip()
    record.update(status="failed", error=message, metrics={}, per_frame={}, finished_at=_now())
    try:
        codec = registry.create_codec(job.codec, job.codec_options)
        record.update(codec=codec.label, codec_version=codec.version, rate_parameter=codec.rate_parameter)
    except Exception:
        pass
    return record
