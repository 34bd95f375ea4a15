"""Jobs on a Ray cluster: a local one started for the run, or an existing one by address.

Every job is a Ray task that calls :func:`codecbench.run.runner.run_job`, so records, locking, atomic
commits and resume are exactly those of the local executor. Two ways for workers to see the data:

* ``shared`` (default): the run folder and the sequences are on a filesystem every node mounts at
  the same path; the task runs ``run_job`` straight into the run folder. A marker file written by
  the driver is checked first, so a node that does not see the folder fails loudly instead of
  writing results nobody reads.
* ``stream``: the driver puts each sequence's bytes in Ray's object store and holds the job's
  lock; the task writes the clip to a local temporary file, runs the job into a temporary run
  folder and sends back the record and its files (bitstream, snapshots, features), which the
  driver commits into the run folder (files first, record last, each by atomic rename).

A task whose worker process dies (killed, out of memory, node lost) is retried by Ray on another
worker (``max_retries``); exceptions are not retried (``run_job`` records them as failed jobs).
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from codecbench import registry
from codecbench.atomic import atomic_write_bytes
from codecbench.errors import CodecbenchError
from codecbench.run.executors.base import Executor
from codecbench.run.jobs import Job
from codecbench.run.runner import failure_record, run_job
from codecbench.run.store import RunStore
from codecbench.threads import budget_environ

INSTALL_HINT = "pip install 'codecbench[ray]'  (or: pip install 'ray[default]>=2.30')"
MODES = ("shared", "stream")
#: Environment variables forwarded to the workers of an existing cluster (caches, weights, offline).
FORWARDED_ENV_PREFIXES = ("CODECBENCH_", "HF_", "TORCH_HOME", "XDG_CACHE_HOME")


def import_ray() -> Any:
    """The ``ray`` module, or a CodecbenchError saying how to install it."""
    try:
        import ray
    except ImportError as e:
        raise CodecbenchError(f"the ray executor needs Ray, which is not installed: {INSTALL_HINT}") from e
    return ray


def declared_resources(job: Job) -> dict[str, float]:
    """What the job's codec asks a scheduler for (``Codec.resources``, lower-cased keys).

    Read from a codec built with the job's options, so a plugin may scale its request with its
    options (e.g. a ``devices`` option asking for that many GPUs) by setting ``self.resources``.
    """
    codec = registry.create_codec(job.codec, job.codec_options)
    return {str(k).lower(): float(v) for k, v in dict(codec.resources).items()}


def task_resources(
    declared: dict[str, float], nodes: list[dict[str, float]], fit: bool = True
) -> tuple[dict[str, Any], list[str]]:
    """Ray task options (``num_cpus``, ``num_gpus``, ``memory``, ``resources``) and notes on changes.

    With ``fit`` a request no alive node can satisfy is lowered to the largest node's amount (Ray
    would otherwise wait forever for an infeasible task): a GPU request on a cluster without GPUs
    becomes 0, and the codec then chooses its device itself (e.g. CPU). Without ``fit`` requests go
    to Ray unchanged, for clusters whose autoscaler adds nodes on demand.
    """
    notes: list[str] = []

    def largest(key: str) -> float:
        return max((n.get(key, 0.0) for n in nodes), default=0.0)

    def fitted(what: str, key: str, want: float) -> float:
        have = largest(key)
        if not fit or want <= have:
            return want
        notes.append(f"asks for {want:g} {what} but the largest node has {have:g}: requesting {have:g}")
        return have

    options: dict[str, Any] = {
        "num_cpus": fitted("CPU", "CPU", declared.get("cpu", 1.0)),
        "num_gpus": fitted("GPU", "GPU", declared.get("gpu", 0.0)),
    }
    if declared.get("memory"):
        options["memory"] = fitted("bytes of memory", "memory", declared["memory"])
    custom = {}
    for key, want in declared.items():
        if key in ("cpu", "gpu", "memory"):
            continue
        if fit and largest(key) < want:
            notes.append(f"asks for {want:g} of resource {key!r}, which no node offers: dropped")
            continue
        custom[key] = want
    if custom:
        options["resources"] = custom
    return options, notes


def _check_shared(root: str, marker: str, source: str) -> None:
    if not RunStore(root, create=False).lock_file(marker).is_file():
        raise CodecbenchError(
            f"Ray worker on {socket.gethostname()} does not see the run folder {root}: put it on a "
            "filesystem every node mounts at the same path, or use the stream mode"
        )
    if not Path(source).is_file():
        raise CodecbenchError(
            f"Ray worker on {socket.gethostname()} does not see the sequence {source}: put the dataset "
            "on a shared filesystem, or use the stream mode"
        )


def run_shared(job: Job, root: str, marker: str, cwd: str | None = None) -> dict[str, Any] | None:
    """Task body of the shared mode: check the folders are visible here, then run the job into them.

    ``cwd`` is the driver's working folder: relative sequence paths (``--dataset ./clips``) then
    name the same files here as on the driver, and the record is the same as a local run's.
    """
    if cwd and Path(cwd).is_dir():
        os.chdir(cwd)
    _check_shared(root, marker, str(job.clip.path))
    return run_job(job, root)


def _record_files(record: dict[str, Any], job: Job, root: Path) -> dict[str, bytes]:
    """The files a committed job produced in run folder ``root``, by path relative to it."""
    store = RunStore(root, create=False)
    rels = [record.get("bitstream_path"), record.get("snapshot_path")]
    rels.append(store.relative(store.reference_snapshot(job.clip.dataset, job.clip.name)))
    features = store.features_dir(job.job_id)
    if features.is_dir():
        rels += [store.relative(p) for p in sorted(features.iterdir()) if p.is_file()]
    return {rel: (root / rel).read_bytes() for rel in rels if rel and (root / rel).is_file()}


def run_streamed(job: Job, source: bytes) -> tuple[dict[str, Any] | None, dict[str, bytes]]:
    """Task body of the stream mode: the clip arrives as bytes; the record and its files go back."""
    with tempfile.TemporaryDirectory(prefix="codecbench-ray-") as tmp:
        clip_path = Path(tmp) / "source.yuv"
        clip_path.write_bytes(source)
        local = replace(job, clip=replace(job.clip, path=clip_path))
        root = Path(tmp) / "run"
        record = run_job(local, root)
        if record is None:
            return None, {}
        record["source_path"] = str(job.clip.path)
        if "error" in record:
            record["error"] = str(record["error"]).replace(str(clip_path), str(job.clip.path))
        return record, _record_files(record, job, root)


def commit_streamed(store: RunStore, record: dict[str, Any], files: dict[str, bytes]) -> None:
    """Write a streamed job's files, then its record (the commit point), each atomically."""
    for rel, data in files.items():
        target = store.root / rel
        if target == store.reference_snapshot(record["dataset"], record["sequence"]) and target.exists():
            continue
        atomic_write_bytes(target, data)
    store.commit(record)


class RayExecutor(Executor):
    """Runs the jobs as Ray tasks, one per job, with the resources its codec declares.

    ``workers``: CPUs of the local cluster started when no ``address`` is given (ignored with an
    address: the cluster's resources bound concurrency). ``address``: an existing cluster
    (``host:port``, ``auto``, or ``ray://host:10001``); ``RAY_ADDRESS`` is used when set.
    ``mode``: ``shared`` or ``stream`` (see the module doc). ``max_retries``: times a job is
    retried after its worker dies. ``fit_resources``: lower requests no node can satisfy (see
    :func:`task_resources`); ``require_gpus``: fail instead when a job wants GPUs the cluster lacks.
    A Ray already initialised in this process is used as it is and left running.
    """

    name = "ray"

    def __init__(
        self,
        workers: int = 1,
        address: str | None = None,
        mode: str = "shared",
        max_retries: int = 3,
        fit_resources: bool = True,
        require_gpus: bool = False,
        max_in_flight: int | None = None,
        object_store_memory: int | None = None,
    ) -> None:
        if mode not in MODES:
            raise CodecbenchError(f"ray executor mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.workers = max(1, int(workers))
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.mode = mode
        self.max_retries = int(max_retries)
        self.fit_resources = fit_resources
        self.require_gpus = require_gpus
        self.max_in_flight = max_in_flight
        self.object_store_memory = object_store_memory
        import_ray()

    # ---- cluster -----------------------------------------------------------------------------
    def _connect(self, ray: Any) -> bool:
        """Initialise Ray unless it already is; True when this call started the connection."""
        if ray.is_initialized():
            return False
        try:
            if self.address:
                env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
                ray.init(address=self.address, runtime_env={"env_vars": env} if env else None)
            else:
                ray.init(
                    num_cpus=self.workers,
                    include_dashboard=False,
                    object_store_memory=self.object_store_memory,
                )
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = f"at {self.address}" if self.address else "locally"
            raise CodecbenchError(f"could not start or reach a Ray cluster {where}: {e}") from e
        return True

    @staticmethod
    def _nodes(ray: Any) -> list[dict[str, float]]:
        return [dict(n.get("Resources", {})) for n in ray.nodes() if n.get("Alive")]

    def _options(self, jobs: list[Job], nodes: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
        """Ray task options per codec configuration, warning once about each lowered request."""
        by_config: dict[tuple[str, str], dict[str, Any]] = {}
        out = {}
        for job in jobs:
            key = (job.codec, job.codec_config)
            if key not in by_config:
                declared = declared_resources(job)
                # A task asks for at least as many CPUs as the threads it will run.
                declared["cpu"] = max(declared.get("cpu", 1.0), float(job.threads))
                if self.require_gpus and declared.get("gpu", 0) > max(
                    (n.get("GPU", 0.0) for n in nodes), default=0.0
                ):
                    raise CodecbenchError(
                        f"codec {job.codec} asks for {declared['gpu']:g} GPU(s) per job but no node of the "
                        "Ray cluster has that many"
                    )
                options, notes = task_resources(declared, nodes, self.fit_resources)
                for note in notes:
                    warnings.warn(f"ray executor: codec {job.codec} {note}", RuntimeWarning, stacklevel=3)
                by_config[key] = options
            out[job.job_id] = by_config[key]
        return out

    # ---- running -----------------------------------------------------------------------------
    def map(self, jobs: list[Job], root: Path) -> Iterator[tuple[Job, dict[str, Any] | None]]:
        if not jobs:
            return
        ray = import_ray()
        started = self._connect(ray)
        try:
            nodes = self._nodes(ray)
            options = self._options(jobs, nodes)
            window = self.max_in_flight or max(2, 2 * int(sum(n.get("CPU", 0.0) for n in nodes)))
            store = RunStore(root)
            if self.mode == "shared":
                yield from self._map_shared(ray, jobs, store, options, window)
            else:
                yield from self._map_streamed(ray, jobs, store, options, window)
        finally:
            if started:
                ray.shutdown()

    def _task(self, ray: Any, fn: Any, opts: dict[str, Any], job: Job) -> Any:
        """The job's task, its worker holding to the job's thread budget from its start."""
        if job.threads:
            opts = {**opts, "runtime_env": {"env_vars": budget_environ(job.threads)}}
        return ray.remote(fn).options(
            **opts, max_retries=self.max_retries, retry_exceptions=False, name=f"codecbench:{job.job_id}"
        )

    def _result(self, ray: Any, ref: Any, job: Job) -> Any:
        """The task's value; a job whose workers all died comes back as None (see :meth:`_lost`)."""
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as e:
            if isinstance(e.cause, CodecbenchError):
                raise e.cause from None
            raise
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as e:
            return _Lost(f"Ray worker lost {self.max_retries + 1} time(s) running this job: {e}")
        except ray.exceptions.OutOfMemoryError as e:
            return _Lost(f"Ray killed the worker for lack of memory: {str(e).splitlines()[0]}")

    def _map_shared(
        self, ray: Any, jobs: list[Job], store: RunStore, options: dict, window: int
    ) -> Iterator[tuple[Job, dict[str, Any] | None]]:
        marker = f"ray-shared-{uuid.uuid4().hex}"
        marker_path = store.lock_file(marker)
        marker_path.write_bytes(b"")
        root, cwd = str(store.root.absolute()), os.getcwd()
        todo, pending = list(reversed(jobs)), {}
        try:
            while todo or pending:
                while todo and len(pending) < window:
                    job = todo.pop()
                    task = self._task(ray, run_shared, options[job.job_id], job)
                    pending[task.remote(job, root, marker, cwd)] = job
                done, _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(done[0])
                record = self._result(ray, done[0], job)
                yield job, _lost(store, job, record.reason) if isinstance(record, _Lost) else record
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            marker_path.unlink(missing_ok=True)

    def _map_streamed(
        self, ray: Any, jobs: list[Job], store: RunStore, options: dict, window: int
    ) -> Iterator[tuple[Job, dict[str, Any] | None]]:
        todo, pending, locks = list(reversed(jobs)), {}, {}
        clips: dict[tuple[str, int], list[Any]] = {}  # (path, bytes) -> [object ref, jobs in flight]

        def release(job: Job) -> None:
            key = (str(job.clip.path), job.clip.nbytes)
            clips[key][1] -= 1
            if clips[key][1] == 0:
                del clips[key]
            locks.pop(job.job_id).release()

        try:
            while todo or pending:
                while todo and len(pending) < window:
                    job = todo.pop()
                    lock = store.job_lock(job.job_id)
                    if not _try(lock):
                        yield job, None
                        continue
                    existing = store.record(job.job_id)
                    if existing is not None and existing.get("status") == "ok":
                        lock.release()
                        yield job, existing
                        continue
                    key = (str(job.clip.path), job.clip.nbytes)
                    if key not in clips:
                        try:
                            clips[key] = [ray.put(_read_clip_bytes(job)), 0]
                        except BaseException:
                            lock.release()
                            raise
                    clips[key][1] += 1
                    locks[job.job_id] = lock
                    task = self._task(ray, run_streamed, options[job.job_id], job)
                    pending[task.remote(job, clips[key][0])] = job
                if not pending:
                    continue
                done, _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(done[0])
                try:
                    result = self._result(ray, done[0], job)
                    if isinstance(result, _Lost):
                        record = _failed(job, result.reason)
                        store.commit(record)
                    else:
                        record, files = result
                        if record is not None:
                            commit_streamed(store, record, files)
                finally:
                    release(job)
                yield job, record
        finally:
            for ref, job in pending.items():
                ray.cancel(ref, force=True)
                locks.pop(job.job_id).release()


class _Lost:
    """A job whose worker died more often than the retries allow."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _failed(job: Job, reason: str) -> dict[str, Any]:
    record = failure_record(job, CodecbenchError(reason))
    return record


def _lost(store: RunStore, job: Job, reason: str) -> dict[str, Any] | None:
    """Commit a failed record for a job no worker survived, unless it is done or held meanwhile."""
    lock = store.job_lock(job.job_id)
    if not _try(lock):
        return None
    try:
        existing = store.record(job.job_id)
        if existing is not None and existing.get("status") == "ok":
            return existing
        record = _failed(job, reason)
        store.commit(record)
        return record
    finally:
        lock.release()


def _try(lock: Any) -> bool:
    from filelock import Timeout

    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    return True


def _read_clip_bytes(job: Job) -> bytes:
    """The bytes of the frames the job uses (its clip's first ``frames`` frames)."""
    clip = job.clip
    try:
        with open(clip.path, "rb") as f:
            data = f.read(clip.nbytes)
    except OSError as e:
        raise CodecbenchError(f"cannot read sequence {clip.path}: {e.strerror or e}") from e
    if len(data) != clip.nbytes:
        raise CodecbenchError(f"{clip.path} holds fewer than the {clip.frames} frames the run uses")
    return data
