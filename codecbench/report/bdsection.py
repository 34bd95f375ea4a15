"""BD tables and rankings of a report, computed with :mod:`codecbench.bd` for every metric."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from codecbench import bd
from codecbench.errors import CodecbenchError
from codecbench.metrics.info import higher_is_better, ordered
from codecbench.run.tables import RunTables

#: Level of the bootstrap confidence intervals of dataset means.
CONFIDENCE = 0.95


@dataclass
class BdResults:
    """BD tables (rate and quality mode) per metric, and the metrics that could not be compared."""

    anchor: str | None
    method: str
    tables: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    #: Decimals of each metric's BD-quality: 2 for metrics in the tens (dB, VMAF), else 4.
    decimals: dict[str, int] = field(default_factory=dict)

    @property
    def metrics(self) -> list[str]:
        return ordered(list(self.tables))


def compute_bd(tables: RunTables, anchor: str | None, method: str = "pchip") -> BdResults:
    """BD-rate and BD-quality of every codec against ``anchor`` for each metric that allows it."""
    result = BdResults(anchor, method)
    if anchor is None:
        return result
    metrics = [*tables.metrics, *tables.dataset_metric_names]
    for metric in metrics:
        try:
            curves = bd.curves_for(tables.results, tables.dataset_metrics, metric)
            if curves.empty:
                raise CodecbenchError("no successful job has a value")
            if anchor not in set(curves["codec"]):
                raise CodecbenchError(f"the anchor {anchor!r} has no value")
            higher = higher_is_better(metric)
            result.decimals[metric] = 2 if curves["value"].abs().max() >= 5 else 4
            result.tables[metric] = {
                mode: bd.bd_table(curves, anchor, metric, method, mode, higher, CONFIDENCE)
                for mode in bd.MODES
            }
        except CodecbenchError as e:
            result.skipped[metric] = str(e)
    return result


def fmt_number(value: float, mode: str, decimals: int = 4, percent: bool = True) -> str:
    """``-12.34 %`` (BD-rate; without `` %`` when the column header says it) or ``+0.4321``
    (BD-quality, ``decimals`` places); ``n/a`` if NaN."""
    if not math.isfinite(value):
        return "n/a"
    if mode == "rate":
        return f"{value:+.2f}" + (" %" if percent else "")
    return f"{value:+.{decimals}f}"


def fmt_value(value: float, mode: str, low: float = math.nan, high: float = math.nan) -> str:
    """``-12.34 %`` or ``+0.4321``, with ``[low, high]`` when the interval is known."""
    if not math.isfinite(value):
        return "n/a"
    spec = "{:+.2f} %" if mode == "rate" else "{:+.4f}"
    text = spec.format(value)
    if math.isfinite(low) and math.isfinite(high):
        text += f" [{spec.format(low)}, {spec.format(high)}]"
    return text


@dataclass(frozen=True)
class Cell:
    """One dataset BD value of a codec, with its interval and, when it has no value, why."""

    value: float = math.nan
    low: float = math.nan
    high: float = math.nan
    #: "ci" (bootstrap confidence interval), "range" (min to max over sequences) or "" (none).
    interval: str = ""
    n_sequences: int = 0
    #: Why there is no value, or a warning about the value (non-monotonic curves); "" if none.
    note: str = ""
    anchor: bool = False

    @property
    def ok(self) -> bool:
        return self.anchor or math.isfinite(self.value)


def dataset_cell(row: pd.Series) -> Cell:
    """The :class:`Cell` of a dataset row (``sequence == "*"``) of a :func:`codecbench.bd.bd_table`."""
    value, n = float(row["value"]), int(row["n_sequences"])
    low, high = float(row["ci_low"]), float(row["ci_high"])
    interval = "ci" if math.isfinite(low) and math.isfinite(high) else ""
    if not interval and n > 1:
        low, high = float(row["seq_min"]), float(row["seq_max"])
        interval = "range" if math.isfinite(low) and math.isfinite(high) else ""
    note = row["warning"] if isinstance(row["warning"], str) else ""
    return Cell(value, low, high, interval, n, note)


@dataclass
class RankedCodec:
    """A codec's place in a dataset's ranking and its dataset BD cells per (metric, mode)."""

    rank: int | None
    codec: str
    cells: dict[tuple[str, str], Cell]


def ranking(results: BdResults, dataset: str, primary: str) -> list[RankedCodec]:
    """A dataset's codecs ordered by dataset BD-rate of ``primary``, with every metric's dataset
    BD-rate and BD-quality. Codecs without a BD-rate of ``primary`` come last, unranked; a cell
    without a value carries the reason the BD tables give for it (the same text)."""
    rate = results.tables[primary]["rate"]
    order = bd.ranking(rate[rate["dataset"] == dataset])
    ranked = []
    for r in order.itertuples(index=False):
        cells: dict[tuple[str, str], Cell] = {}
        for metric in results.metrics:
            for mode in bd.MODES:
                t = results.tables[metric][mode]
                hit = t[
                    (t["dataset"] == dataset) & (t["codec"] == r.codec) & (t["sequence"] == bd.ALL_SEQUENCES)
                ]
                if r.codec == results.anchor:
                    cells[metric, mode] = Cell(0.0, anchor=True)
                elif hit.empty:
                    cells[metric, mode] = Cell(note=f"no successful job of {r.codec} has a value of {metric}")
                else:
                    cells[metric, mode] = dataset_cell(hit.iloc[0])
        ranked.append(RankedCodec(int(r.rank) if math.isfinite(r.rank) else None, str(r.codec), cells))
    return ranked
