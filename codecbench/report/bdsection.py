"""BD tables and rankings of a report, computed with :mod:`codecbench.bd` for every metric."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from codecbench import bd
from codecbench.errors import CodecbenchError
from codecbench.report.data import RunTables

#: Metrics listed first, in this order; any other metric follows alphabetically.
PREFERRED = ("psnr_y", "psnr_yuv", "vmaf", "ms_ssim_y", "lpips_alex", "lpips_vgg", "dists", "fid", "kid")


def ordered(metrics: list[str]) -> list[str]:
    """``metrics`` with the usual ones first (PSNR, VMAF, MS-SSIM, LPIPS, DISTS, FID)."""
    return [m for m in PREFERRED if m in metrics] + sorted(m for m in metrics if m not in PREFERRED)


@dataclass
class BdResults:
    """BD tables (rate and quality mode) per metric, and the metrics that could not be compared."""

    anchor: str | None
    method: str
    tables: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

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
            higher = bd.metric_higher_is_better(metric)
            result.tables[metric] = {
                mode: bd.bd_table(curves, anchor, metric, method, mode, higher) for mode in bd.MODES
            }
        except CodecbenchError as e:
            result.skipped[metric] = str(e)
    return result


def fmt_value(value: float, mode: str, low: float = math.nan, high: float = math.nan) -> str:
    """``-12.34 %`` or ``+0.4321``, with ``[low, high]`` when the interval is known."""
    if not math.isfinite(value):
        return "n/a"
    spec = "{:+.2f} %" if mode == "rate" else "{:+.4f}"
    text = spec.format(value)
    if math.isfinite(low) and math.isfinite(high):
        text += f" [{spec.format(low)}, {spec.format(high)}]"
    return text


def ranking_rows(results: BdResults, dataset: str, primary: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a dataset's ranking: ordered by BD-rate of ``primary``, then every
    metric's dataset BD-rate and BD-quality as further columns."""
    rate = results.tables[primary]["rate"]
    order = bd.ranking(rate[rate["dataset"] == dataset])
    header = ["rank", "codec"]
    for metric in results.metrics:
        header += [f"BD-rate {metric}", f"BD-{metric}"]
    rows = []
    for r in order.itertuples(index=False):
        cells = ["" if not math.isfinite(r.rank) else str(int(r.rank)), str(r.codec)]
        for metric in results.metrics:
            for mode in bd.MODES:
                t = results.tables[metric][mode]
                hit = t[
                    (t["dataset"] == dataset) & (t["codec"] == r.codec) & (t["sequence"] == bd.ALL_SEQUENCES)
                ]
                if r.codec == results.anchor:
                    cells.append("anchor")
                elif hit.empty:
                    cells.append("")
                else:
                    h = hit.iloc[0]
                    cells.append(fmt_value(h["value"], mode, h["ci_low"], h["ci_high"]))
        rows.append(cells)
    return header, rows
