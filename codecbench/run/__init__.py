"""The run wing: everything about one run folder (``codecbench run --out DIR``).

* :mod:`~codecbench.run.jobs`: a job (codec, sequence, rate point) and its stable id;
* :mod:`~codecbench.run.plan`: the grid of jobs and metrics of a run;
* :mod:`~codecbench.run.runner`: running one job (encode, store, decode, measure, commit);
* :mod:`~codecbench.run.benchmark`: running a plan's jobs, the tables and ``run.json``;
* :mod:`~codecbench.run.executors`: where jobs run (local processes, Ray);
* :mod:`~codecbench.run.store`: :class:`RunStore`, the one owner of every path in a run folder;
* :mod:`~codecbench.run.schema`: the columns of the tables a run writes;
* :mod:`~codecbench.run.tables`: reading those tables back, with codec labels and anchors
  resolved, for ``bd``, the report and the leaderboard;
* :mod:`~codecbench.run.verify`: re-decoding a run's bitstreams against its results.
"""

from codecbench.run.benchmark import Summary, run_benchmark
from codecbench.run.jobs import Job
from codecbench.run.plan import Plan
from codecbench.run.runner import run_job
from codecbench.run.store import RunStore
from codecbench.run.tables import RunTables, load_run
from codecbench.run.verify import verify_run

__all__ = [
    "Job",
    "Plan",
    "RunStore",
    "RunTables",
    "Summary",
    "load_run",
    "run_benchmark",
    "run_job",
    "verify_run",
]
