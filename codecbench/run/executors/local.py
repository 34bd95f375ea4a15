"""Jobs on this machine: in the calling process, or in a pool of worker processes."""

from __future__ import annotations

import multiprocessing as mp
import warnings
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from codecbench import threads
from codecbench.run.executors.base import Executor
from codecbench.run.jobs import Job
from codecbench.run.runner import run_job


def _same_warning_filters(filters: list) -> None:
    """A worker shows (and hides) warnings exactly as the process that started it does."""
    warnings.filters[:] = filters


class LocalExecutor(Executor):
    """``workers == 1`` runs jobs in this process; more starts that many spawned worker processes.

    Each worker runs its jobs within their thread budget (:mod:`codecbench.threads`).
    """

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))

    def map(self, jobs: list[Job], root: Path) -> Iterator[tuple[Job, dict[str, Any] | None]]:
        if self.workers == 1 or len(jobs) <= 1:
            for job in jobs:
                yield job, run_job(job, root)
            return
        pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=mp.get_context("spawn"),
            initializer=_same_warning_filters,
            initargs=(list(warnings.filters),),
        )
        try:
            # Workers start within the submits: they inherit the budget before numpy or torch load.
            with threads.environ(max(job.threads for job in jobs) or threads.default_threads(self.workers)):
                pending = {pool.submit(run_job, job, root): job for job in jobs}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield pending.pop(fut), fut.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
