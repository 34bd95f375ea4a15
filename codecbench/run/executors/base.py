"""The executor contract: run a list of jobs into a run folder and yield their records as they finish."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codecbench.run.jobs import Job


class Executor(ABC):
    """Runs :func:`codecbench.run.runner.run_job` for many jobs, somewhere."""

    name: str = "executor"

    @abstractmethod
    def map(self, jobs: list[Job], root: Path) -> Iterator[tuple[Job, dict[str, Any] | None]]:
        """Yield ``(job, record)`` in completion order; ``record`` is None when another run holds the job."""
