"""The thread budget: how many threads each job may use, so parallel jobs never oversubscribe the cores.

torch, OpenMP/MKL, x265, VVenC, libaom and libvmaf each start as many threads as the machine has
cores. Two such jobs side by side, or one beside another busy process, make those threads spin
against each other: one measured DiV-INR encode step took 0.63 s with one thread and 12.2 s with
torch's default next to one other CPU-bound process. So every job runs within a budget:

* ``threads`` per job; by default ``cores // workers``, at least 1;
* set before torch starts, through the environment variables OpenMP, MKL and OpenBLAS read at
  start-up, and again through ``torch.set_num_threads`` where torch is already loaded;
* handed to encoders, decoders and libvmaf as their thread options (:func:`job_threads`);
* recorded in ``run.json`` and in each job's record.

A codec that cannot use more than one thread says so (``Codec.single_threaded``) and its jobs run
with a budget of 1.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

#: Environment variables read by the thread pools of OpenMP, MKL, OpenBLAS, Accelerate and numexpr.
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
#: Where the current job's budget is published to the codecs and metrics of this process.
BUDGET_ENV_VAR = "CODECBENCH_THREADS"

_interop_set = False


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


#: Jobs at once by default. Measured on 2 cores (``bench/bench_threads.py``), 2 workers of 1 thread
#: finish 1.3x (divinr), 1.55x (hevc) and 1.76x (vvc) the jobs per minute of 1 worker of 2 threads;
#: more than 2 is not the default because each worker holds its own models and frames in memory.
DEFAULT_WORKERS = 2


def default_workers(cores: int | None = None) -> int:
    """Jobs run at once when ``--workers`` is not given: 2, or 1 on a single core."""
    return max(1, min(DEFAULT_WORKERS, cores or available_cores()))


def default_threads(workers: int, cores: int | None = None) -> int:
    """Threads per job when ``workers`` jobs run at once: the cores shared out, at least 1."""
    return max(1, (cores or available_cores()) // max(1, workers))


def budget_environ(threads: int) -> dict[str, str]:
    """The environment variables that hold a process's thread pools to ``threads``.

    OpenMP threads also wait passively (sleep, not spin) at barriers unless the user chose
    otherwise: spinning threads whose peer lost its core to another process made one measured
    2-thread conv step 5-8x slower than with one thread; waiting passively cut that to 1.4-1.8x.
    """
    value = str(max(1, int(threads)))
    env = {**{name: value for name in THREAD_ENV_VARS}, BUDGET_ENV_VAR: value}
    env["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY", "PASSIVE")
    return env


def apply_budget(threads: int) -> dict[str, int]:
    """Hold this process to ``threads``: environment for libraries not yet loaded, torch if loaded.

    Returns what was applied (``threads``, and torch's intra-op and inter-op thread counts when
    torch is loaded), for the job's record.
    """
    global _interop_set
    threads = max(1, int(threads))
    os.environ.update(budget_environ(threads))
    applied = {"threads": threads}
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
        if not _interop_set:
            with contextlib.suppress(RuntimeError):  # only possible before torch's first parallel work
                torch.set_num_interop_threads(threads)
            _interop_set = True
        applied["torch_threads"] = torch.get_num_threads()
        applied["torch_interop_threads"] = torch.get_num_interop_threads()
    return applied


def job_threads() -> int:
    """The current job's budget, for a codec's or metric's own thread options (encoders, libvmaf).

    Outside a run (no budget set) it is every core this process may use.
    """
    value = os.environ.get(BUDGET_ENV_VAR, "")
    return max(1, int(value)) if value.isdigit() else available_cores()


@contextlib.contextmanager
def environ(threads: int) -> Iterator[None]:
    """Within the block, processes started from here inherit a budget of ``threads``."""
    saved = {k: os.environ.get(k) for k in budget_environ(threads)}
    os.environ.update(budget_environ(threads))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
