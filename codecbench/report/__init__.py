"""Self-contained HTML reports of a run: RD curves, BD tables, ranking, timelines, visual comparison."""

from codecbench.report.data import RunTables, load_run
from codecbench.report.html import render, write_report

__all__ = ["RunTables", "load_run", "render", "write_report"]
