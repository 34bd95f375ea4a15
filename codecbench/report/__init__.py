"""Self-contained HTML reports of a run: RD curves, BD tables, ranking, timelines, visual comparison."""

from codecbench.report.html import render, write_report
from codecbench.run.tables import RunTables, load_run

__all__ = ["RunTables", "load_run", "render", "write_report"]
