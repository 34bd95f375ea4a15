"""Assembling the self-contained HTML report (plotly.js embedded once; images as base64 PNG)."""

from __future__ import annotations

import datetime as dt
import html
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io as pio
from plotly.offline import get_plotlyjs

from codecbench import bd
from codecbench.errors import CodecbenchError
from codecbench.report.bdsection import BdResults, compute_bd, fmt_value, ordered, ranking_rows
from codecbench.report.compare import Comparison, build_comparisons
from codecbench.report.data import RunTables, load_run
from codecbench.report.figures import colors, rd_figure, timeline_figure

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child,td.l{text-align:left}
.notice{background:#fff6e0;border-left:4px solid #e0a000;padding:.5em 1em;margin:.5em 0}
.standin{color:#a05a00;font-weight:600}
.tiles{display:flex;flex-wrap:wrap;gap:10px}.tile{text-align:center;font-size:.85em}
.tile img{width:256px;image-rendering:pixelated;border:1px solid #aaa;display:block}
nav a{margin-right:1em}
"""


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class _Page:
    """Collects sections and figures; numbers figure divs so the test can count them."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.figures = 0

    def add(self, text: str) -> None:
        self.parts.append(text)

    def figure(self, fig: object) -> None:
        self.figures += 1
        div = pio.to_html(
            fig,
            include_plotlyjs=False,
            full_html=False,
            div_id=f"fig{self.figures}",
            config={"responsive": True, "displaylogo": False},
            default_height="460px",
        )
        self.parts.append(f'<div class="figure">{div}</div>')


def stand_ins(results: pd.DataFrame) -> dict[str, bool]:
    """Codecs that are stand-ins: a ``[tiny]`` label, or any row with a true ``stand_in`` column."""
    flags: dict[str, bool] = {}
    for codec, g in results.groupby("codec"):
        flagged = "[tiny]" in str(codec)
        if "stand_in" in g:
            flagged |= bool(g["stand_in"].astype(str).str.lower().isin(["true", "1", "yes"]).any())
        flags[str(codec)] = flagged
    return flags


def _notices(tables: RunTables, flags: dict[str, bool], bdr: BdResults, anchor_note: str) -> str:
    out = []
    if anchor_note:
        out.append(f'<p class="notice">{html.escape(anchor_note)}</p>')
    marked = sorted(c for c, f in flags.items() if f)
    if marked:
        out.append(
            '<p class="notice standin">Stand-in codecs (small or untrained models, not the published '
            f"ones; do not quote their numbers): {html.escape(', '.join(marked))}. "
            "They are drawn with dotted lines.</p>"
        )
    failed = tables.failed
    if len(failed):
        cols = [c for c in ("codec", "dataset", "sequence", "rate_point", "error") if c in failed]
        out.append(f"<h3>Failed jobs ({len(failed)})</h3><p>These jobs have no values and are left out.</p>")
        out.append(_table(cols, failed[cols].fillna("").astype(str).itertuples(index=False)))
    ok = tables.ok
    unavailable = []
    for m in tables.metrics:
        values = pd.to_numeric(ok[m], errors="coerce")
        missing = sorted(ok.loc[~np.isfinite(values), "codec"].astype(str).unique())
        if len(missing) and values.notna().sum() == 0:
            unavailable.append((m, "no values at all (metric unavailable in this run)"))
        elif missing:
            unavailable.append((m, f"no values for {', '.join(missing)}"))
    listed = {m for m, _ in unavailable}
    unavailable += [
        (m, f"not computed: {why}") for m, why in tables.skipped_metrics.items() if m not in listed
    ]
    listed |= set(tables.skipped_metrics)
    unavailable += [(m, f"no BD: {why}") for m, why in bdr.skipped.items() if m not in listed]
    if unavailable:
        out.append("<h3>Unavailable metrics</h3>")
        out.append(_table(["metric", "why"], unavailable))
    if tables.frames is None:
        out.append(
            '<p class="notice">No frames.csv beside results.csv: per-frame timelines are left out.</p>'
        )
    return "<h2 id='notices'>Notices</h2>" + "".join(out) if out else ""


def _ranking_section(bdr: BdResults, datasets: list[str], page: _Page) -> None:
    if not bdr.tables:
        return
    primary = "psnr_y" if "psnr_y" in bdr.tables else bdr.metrics[0]
    page.add(
        "<h2 id='ranking'>Ranking</h2><p>Codecs ordered by dataset BD-rate of "
        f"<b>{html.escape(primary)}</b> against <b>{html.escape(str(bdr.anchor))}</b> "
        f"({html.escape(bdr.method)} interpolation). BD-rate &lt; 0 and BD-quality &gt; 0 mean better "
        "than the anchor for every metric (for LPIPS, DISTS, FID the BD-quality is the reduction). "
        "Brackets: 95% bootstrap interval over sequences.</p>"
    )
    for dataset in datasets:
        header, rows = ranking_rows(bdr, dataset, primary)
        page.add(f"<h3>{html.escape(dataset)}</h3>" + _table(header, rows))


def _bd_tables_section(bdr: BdResults, page: _Page) -> None:
    if not bdr.tables:
        return
    page.add("<h2 id='bd'>BD tables</h2>")
    for metric in bdr.metrics:
        page.add(f"<h3>{html.escape(metric)}</h3>")
        for mode in bd.MODES:
            t = bdr.tables[metric][mode]
            label = "BD-rate" if mode == "rate" else f"BD-{metric}"
            rows = [
                [r.dataset, r.sequence, r.codec, fmt_value(r.value, mode, r.ci_low, r.ci_high), r.warning]
                for r in t.itertuples(index=False)
            ]
            avg = [r for r in rows if r[1] == bd.ALL_SEQUENCES]
            page.add(f"<h4>{html.escape(label)}, dataset means</h4>" + _table(
                ["dataset", "sequence", "codec", label, "warning"], avg))  # fmt: skip
            per_seq = [r for r in rows if r[1] != bd.ALL_SEQUENCES]
            if per_seq:
                page.add(
                    f"<details><summary>{html.escape(label)} per sequence</summary>"
                    + _table(["dataset", "sequence", "codec", label, "warning"], per_seq)
                    + "</details>"
                )


def _comparison_section(comps: list[Comparison]) -> str:
    if not comps:
        return ""
    out = [
        "<h2 id='visual'>Visual comparison</h2><p>The same crop of the middle frame as decoded by each "
        "codec at its rate point closest to the target bpp (nearest-neighbour enlarged).</p>"
    ]
    for c in comps:
        x, y, w, h = c.window
        out.append(
            f"<h3>{html.escape(c.dataset)} / {html.escape(c.sequence)}</h3><p>target {c.target_bpp:.4f} bpp; "
            f"crop {w}x{h} at ({x}, {y})</p><div class='tiles'>"
        )
        for t in c.tiles:
            label = html.escape(t.title) + (" <span class='standin'>(stand-in)</span>" if t.stand_in else "")
            detail = (
                f"<br>{t.bpp:.4f} bpp, rate point {html.escape(t.rate_point)}" if t.bpp is not None else ""
            )
            out.append(
                f"<div class='tile'><img alt='{html.escape(t.title, quote=True)}' "
                f"src='data:image/png;base64,{t.png_base64}'>{label}{detail}</div>"
            )
        out.append("</div>")
        if c.missing:
            out.append(f"<p class='notice'>No usable snapshot for: {html.escape(', '.join(c.missing))}</p>")
    return "".join(out)


def _points(d: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Plottable (codec, sequence, rate_point, bpp, value) points of one metric."""
    pts = pd.DataFrame(
        {
            "codec": d["codec"].astype(str),
            "sequence": d["sequence"].astype(str),
            "rate_point": d["rate_point"].astype(str) if "rate_point" in d else d.index.astype(str),
            "bpp": pd.to_numeric(d["bpp"], errors="coerce"),
            "value": pd.to_numeric(d[metric], errors="coerce"),
        }
    )
    return pts[np.isfinite(pts["bpp"]) & np.isfinite(pts["value"]) & (pts["bpp"] > 0)]


def render(
    tables: RunTables,
    anchor: str | None = "hevc",
    method: str = "pchip",
    compare_bpp: float | None = None,
    title: str = "codecbench report",
) -> tuple[str, int]:
    """The report page and its number of figures."""
    ok = tables.ok
    flags = stand_ins(tables.results)
    display = {c: (f"{c} (stand-in)" if f else c) for c, f in flags.items()}
    codec_list = sorted(tables.results["codec"].astype(str).unique())
    palette = colors(codec_list)
    plugins = {}
    if "codec_plugin" in tables.results:
        plugins = dict(zip(tables.results["codec"].astype(str), tables.results["codec_plugin"].astype(str),
                           strict=True))  # fmt: skip
    anchor_note = ""
    resolved: str | None = None
    if anchor:
        try:
            resolved = bd.resolve_anchor(list(ok["codec"].astype(str).unique()), anchor, plugins)
        except CodecbenchError as e:
            anchor_note = f"No BD tables or ranking: {e}"
    bdr = compute_bd(tables, resolved, method)
    datasets = sorted(ok["dataset"].astype(str).unique())

    page = _Page()
    page.add(_notices(tables, flags, bdr, anchor_note))
    _ranking_section(bdr, datasets, page)

    page.add(
        "<h2 id='rd'>Rate-distortion curves</h2><p>Pick the dataset mean (mean bpp and value per "
        "rate point over the sequences) or one sequence; switch bpp between log and linear.</p>"
    )
    for metric in ordered(tables.metrics):
        for dataset in datasets:
            pts = _points(ok[ok["dataset"].astype(str) == dataset], metric)
            if len(pts):
                page.figure(rd_figure(pts, dataset, metric, palette, lambda c: display.get(c, c)))
    if tables.dataset_metrics is not None:
        for metric in tables.dataset_metric_names:
            dm = bd.curves_from_dataset_metrics(tables.dataset_metrics, metric)
            for dataset in sorted(dm["dataset"].unique()):
                pts = dm[(dm["dataset"] == dataset) & (dm["bpp"] > 0)]
                if len(pts):
                    page.figure(rd_figure(pts, dataset, metric, palette, lambda c: display.get(c, c)))

    _bd_tables_section(bdr, page)

    if tables.frames is not None and len(tables.frames):
        page.add("<h2 id='timelines'>Per-frame metrics</h2>")
        fr = tables.frames.copy()
        fr["dataset"] = fr["dataset"].astype(str) if "dataset" in fr else ""
        fr["rate_point"] = fr["rate_point"].astype(str) if "rate_point" in fr else ""
        fr["value"] = pd.to_numeric(fr["value"], errors="coerce")
        for (metric, dataset), g in fr.groupby(["metric", "dataset"], sort=True):
            page.figure(timeline_figure(g, str(dataset), str(metric), palette, lambda c: display.get(c, c)))

    page.add(_comparison_section(build_comparisons(ok, tables.run_dir, resolved, compare_bpp, flags)))

    nav = "".join(
        f"<a href='#{a}'>{t}</a>"
        for a, t in (("notices", "notices"), ("ranking", "ranking"), ("rd", "RD curves"),
                     ("bd", "BD tables"), ("timelines", "per-frame"), ("visual", "visual comparison"))
    )  # fmt: skip
    generated = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    head = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style><script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{len(codec_list)} codecs, {len(datasets)} dataset(s), "
        f"{len(tables.results)} jobs ({len(tables.failed)} failed); anchor "
        f"<b>{html.escape(str(resolved or anchor))}</b>; generated {generated}.</p><nav>{nav}</nav>"
    )
    return head + "".join(page.parts) + "</body></html>", page.figures


def write_report(
    run_dir_or_results_csv: str | Path,
    out_path: str | Path | None = None,
    anchor: str | None = "hevc",
    method: str = "pchip",
    compare_bpp: float | None = None,
) -> Path:
    """Write the report of a run to ``out_path`` (default: ``report.html`` beside results.csv).

    Works from results.csv alone; frames.csv, dataset_metrics.csv and snapshots add sections.
    Returns the path written.
    """
    tables = load_run(run_dir_or_results_csv)
    out = Path(out_path) if out_path is not None else tables.run_dir / "report.html"
    page, _ = render(tables, anchor, method, compare_bpp, title=f"codecbench report: {tables.run_dir.name}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out
