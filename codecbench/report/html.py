"""Assembling the self-contained HTML report (plotly.js embedded once; images as base64 PNG)."""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io as pio
from plotly.offline import get_plotlyjs

from codecbench import bd
from codecbench.atomic import atomic_write_text
from codecbench.errors import CodecbenchError
from codecbench.metrics.info import metric_info, ordered
from codecbench.registry import is_stand_in
from codecbench.report.bdsection import (
    CONFIDENCE,
    BdResults,
    Cell,
    RankedCodec,
    compute_bd,
    dataset_cell,
    fmt_number,
    ranking,
)
from codecbench.report.compare import Comparison, build_comparisons
from codecbench.report.figures import colors, rd_figure, timeline_figure
from codecbench.run.tables import DEFAULT_ANCHOR, RunTables, load_run

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
.tablewrap{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}table.rank{font-size:.85em}
table.rank td:nth-child(2){max-width:12em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f3f3f3}
th.num,td.num{text-align:right}td.num{white-space:nowrap}
td.txt{min-width:14em;overflow-wrap:anywhere}td.why{color:#6b4a00;font-style:italic}
.ci{display:block;font-size:.78em;color:#555;white-space:normal}.ci span{white-space:nowrap}
.unit{font-weight:normal;font-size:.85em;color:#555}
.na{color:#777}sup{font-size:.75em}
p.notes{font-size:.85em;margin:-.6em 0 1em;color:#444}
.notice{background:#fff6e0;border-left:4px solid #e0a000;padding:.5em 1em;margin:.5em 0}
.standin{color:#a05a00;font-weight:600}
.tiles{display:flex;flex-wrap:wrap;gap:10px}.tile{text-align:center;font-size:.85em}
.tile img{width:256px;image-rendering:pixelated;border:1px solid #aaa;display:block}
nav a{margin-right:1em}
"""


class _Html(str):
    """Text that is already HTML, put into a cell as is."""


def _cell(value: object, tag: str = "td", cls: str = "", colspan: int = 1) -> str:
    text = value if isinstance(value, _Html) else html.escape(str(value))
    attrs = (f' class="{cls}"' if cls else "") + (f' colspan="{colspan}"' if colspan > 1 else "")
    return f"<{tag}{attrs}>{text}</{tag}>"


def _table(
    header: Iterable[object],
    rows: Iterable[Iterable[object]],
    num: Iterable[int] = (),
    text: Iterable[int] = (),
    cls: str = "",
) -> str:
    """A table in a wrapper; columns in ``num`` are right-aligned numbers, those in ``text`` long text
    (left-aligned, wrapping); a row may hold ``(value, colspan)`` tuples for cells spanning columns."""
    num, text = set(num), set(text)

    def kind(i: int) -> str:
        return "num" if i in num else "txt" if i in text else ""

    head = "".join(_cell(h, "th", kind(i)) for i, h in enumerate(header))
    body = []
    for r in rows:
        cells, i = [], 0
        for c in r:
            value, span = c if isinstance(c, tuple) else (c, 1)
            cells.append(_cell(value, "td", kind(i) if span == 1 else "txt why", span))
            i += span
        body.append("<tr>" + "".join(cells) + "</tr>")
    attrs = f" class='{cls}'" if cls else ""
    return f"<div class='tablewrap'><table{attrs}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


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
    """Codecs that are stand-ins: their plugin says so of their label (``Codec.is_stand_in_label``),
    or a row has a true ``stand_in`` column."""
    flags: dict[str, bool] = {}
    for codec, g in results.groupby("codec"):
        plugin = str(g["codec_plugin"].iloc[0]) if "codec_plugin" in g else str(codec).split("[")[0]
        flagged = is_stand_in(str(codec), plugin)
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
        rows = failed[cols].fillna("").astype(str).itertuples(index=False)
        out.append(_table(cols, rows, text=[cols.index("error")] if "error" in cols else []))
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
        out.append(_table(["metric", "why"], unavailable, text=[1]))
    if tables.frames is None:
        out.append(
            '<p class="notice">No frames.csv beside results.csv: per-frame timelines are left out.</p>'
        )
    return "<h2 id='notices'>Notices</h2>" + "".join(out) if out else ""


class _Notes:
    """Numbered notes under a table: why a cell has no value, or a warning about its value."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], list[str]] = {}

    def mark(self, codec: str, where: str, note: str) -> str:
        """The superscript number of ``codec``'s note (one per codec and note text)."""
        if not note:
            return ""
        places = self.entries.setdefault((codec, note), [])
        if where not in places:
            places.append(where)
        return f"<sup>{list(self.entries).index((codec, note)) + 1}</sup>"

    def html(self) -> str:
        if not self.entries:
            return ""
        lines = [
            f"<sup>{i}</sup> {html.escape(codec)} ({html.escape(', '.join(places))}): {html.escape(note)}"
            for i, ((codec, note), places) in enumerate(self.entries.items(), 1)
        ]
        return "<p class='notes'>" + "<br>".join(lines) + "</p>"


def _interval_html(cell: Cell, mode: str, decimals: int, labelled: bool = True) -> str:
    """The interval in small print under a value; ``labelled`` puts what it is ("range", "95% CI")
    before it, else only the tooltip says (the table's caption then does)."""
    if not cell.interval:
        return ""
    low, high = (fmt_number(v, mode, decimals, percent=False) for v in (cell.low, cell.high))
    if cell.interval == "range":
        label = "range"
        title = f"smallest and largest of the {cell.n_sequences} per-sequence values; {bd.RANGE_NOTE}"
    else:
        label = f"{CONFIDENCE:.0%} CI"
        title = (
            f"{CONFIDENCE:.0%} bootstrap confidence interval of the mean over {cell.n_sequences} sequences"
        )
    prefix = f"{label} " if labelled else ""
    return (
        f"<span class='ci' title='{html.escape(title, quote=True)}'><span>{prefix}{low} …</span> "
        f"<span>{high}</span></span>"
    )


def _value_html(cell: Cell, mode: str, decimals: int, mark: str = "", labelled: bool = True) -> _Html:
    """A dataset BD value on one line, its interval in small print below, and a note mark."""
    if cell.anchor:
        return _Html("<span class='na'>anchor</span>")
    if not math.isfinite(cell.value):
        return _Html(f"<span class='na'>n/a</span>{mark}")
    value = html.escape(fmt_number(cell.value, mode, decimals, percent=False))
    return _Html(value + mark + _interval_html(cell, mode, decimals, labelled))


def _mode_title(metric: str, mode: str) -> str:
    """``BD-rate`` or ``BD-PSNR-Y``."""
    return "BD-rate" if mode == "rate" else f"BD-{metric_info(metric).display}"


def _interval_note(bdr: BdResults) -> str:
    """What the small print under the values is, and why a range rather than an interval."""
    intervals = set()
    for metric in bdr.metrics:
        for mode in bd.MODES:
            t = bdr.tables[metric][mode]
            for _, row in t[t["sequence"] == bd.ALL_SEQUENCES].iterrows():
                intervals.add(dataset_cell(row).interval)
    parts = []
    if "range" in intervals:
        parts.append(f"“range”: the smallest and largest per-sequence value; {html.escape(bd.RANGE_NOTE)}.")
    if "ci" in intervals:
        parts.append(
            f"“{CONFIDENCE:.0%} CI”: percentile bootstrap confidence interval of the mean over sequences."
        )
    return (" Small print under a value: " + " ".join(parts)) if parts else ""


def _caption(cells: list[Cell]) -> tuple[str, bool]:
    """A line saying what the small print of a table's values is, and whether each cell must say
    it itself (when the table mixes ranges and confidence intervals)."""
    kinds = {c.interval for c in cells if c.interval}
    counts = sorted({c.n_sequences for c in cells if c.interval})
    n = f"{counts[0]} " if len(counts) == 1 else ""
    if kinds == {"range"}:
        text = (
            f"Small print: range of the {n}per-sequence values (smallest … largest), not a confidence "
            "interval: too few sequences for one."
        )
    elif kinds == {"ci"}:
        text = (
            f"Small print: {CONFIDENCE:.0%} bootstrap confidence interval of the mean over the {n}sequences."
        )
    else:
        return "", bool(kinds)
    return f"<p class='notes'>{html.escape(text)}</p>", False


def _ranking_table(bdr: BdResults, ranked: list[RankedCodec], mode: str, display: dict[str, str]) -> str:
    notes = _Notes()
    header: list[object] = ["rank", "codec"]
    for metric in bdr.metrics:
        label = metric_info(metric)
        unit = "%" if mode == "rate" else label.unit
        extra = f"<br><span class='unit'>{html.escape(unit)}</span>" if unit else ""
        header.append(_Html(html.escape(label.display) + extra))
    caption, labelled = _caption([rc.cells[m, mode] for rc in ranked for m in bdr.metrics])
    rows = []
    for rc in ranked:
        cells = [(rc.codec, m, rc.cells[m, mode]) for m in bdr.metrics]
        row: list[object] = ["–" if rc.rank is None else str(rc.rank), display.get(rc.codec, rc.codec)]
        if not any(c.ok for _, _, c in cells):
            by_note: dict[str, list[str]] = {}
            for _, m, c in cells:
                by_note.setdefault(c.note or "no value", []).append(metric_info(m).display)
            why = (
                next(iter(by_note))
                if len(by_note) == 1
                else "; ".join(f"{', '.join(ms)}: {note}" for note, ms in by_note.items())
            )
            row.append((why, len(cells)))
        else:
            for codec, m, c in cells:
                mark = "" if c.anchor else notes.mark(codec, metric_info(m).display, c.note)
                row.append(_value_html(c, mode, bdr.decimals.get(m, 4), mark, labelled))
        rows.append(row)
    num = [0, *range(2, 2 + len(bdr.metrics))]
    return _table(header, rows, num=num, cls="rank") + caption + notes.html()


def _ranking_section(bdr: BdResults, datasets: list[str], page: _Page, display: dict[str, str]) -> None:
    if not bdr.tables:
        return
    primary = "psnr_y" if "psnr_y" in bdr.tables else bdr.metrics[0]
    page.add(
        "<h2 id='ranking'>Ranking</h2><p>Codecs ordered by dataset BD-rate of "
        f"<b>{html.escape(metric_info(primary).display)}</b> against <b>{html.escape(str(bdr.anchor))}</b> "
        f"({html.escape(bdr.method)} interpolation), then each metric's dataset BD-rate (% rate change at "
        "equal quality: &lt; 0 is better) and BD-quality (change at equal rate: &gt; 0 is better; for "
        "LPIPS, DISTS, FID the reduction). A codec without a value says why in its row."
        f"{_interval_note(bdr)}</p>"
    )
    for dataset in datasets:
        ranked = ranking(bdr, dataset, primary)
        if not ranked:
            continue
        page.add(f"<h3>{html.escape(dataset)}: BD-rate</h3>" + _ranking_table(bdr, ranked, "rate", display))
        page.add(
            f"<h3>{html.escape(dataset)}: BD-quality</h3>" + _ranking_table(bdr, ranked, "quality", display)
        )


def _bd_tables_section(bdr: BdResults, page: _Page) -> None:
    if not bdr.tables:
        return
    page.add(
        "<h2 id='bd'>BD tables</h2><p>Dataset means over sequences, then the per-sequence values. A mean "
        f"is given only when every sequence has a value; the warning says which do not, and why.{_interval_note(bdr)}</p>"
    )
    for metric in bdr.metrics:
        label = metric_info(metric)
        page.add(f"<h3>{html.escape(label.title)}</h3>")
        for mode in bd.MODES:
            t = bdr.tables[metric][mode]
            title = _mode_title(metric, mode)
            unit = "%" if mode == "rate" else label.unit
            head = f"{title} ({unit})" if unit else title
            decimals = bdr.decimals.get(metric, 4)
            avg = [
                [r["dataset"], r["codec"], _value_html(dataset_cell(r), mode, decimals), r["warning"]]
                for _, r in t[t["sequence"] == bd.ALL_SEQUENCES].iterrows()
            ]
            page.add(
                f"<h4>{html.escape(title)}, dataset means</h4>"
                + _table(["dataset", "codec", head, "warning"], avg, num=[2], text=[3])
            )
            per_seq = [
                [
                    r.dataset,
                    r.sequence,
                    r.codec,
                    fmt_number(r.value, mode, decimals, percent=False),
                    r.warning,
                ]
                for r in t[t["sequence"] != bd.ALL_SEQUENCES].itertuples(index=False)
            ]
            if per_seq:
                page.add(
                    f"<details><summary>{html.escape(title)} per sequence</summary>"
                    + _table(["dataset", "sequence", "codec", head, "warning"], per_seq, num=[3], text=[4])
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
    anchor: str | None = DEFAULT_ANCHOR,
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
    anchor_note = ""
    resolved: str | None = None
    if anchor:
        try:
            resolved = tables.resolve_anchor(anchor)
        except CodecbenchError as e:
            anchor_note = f"No BD tables or ranking: {e}"
    bdr = compute_bd(tables, resolved, method)
    datasets = sorted(ok["dataset"].astype(str).unique())

    page = _Page()
    page.add(_notices(tables, flags, bdr, anchor_note))
    _ranking_section(bdr, datasets, page, display)

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
        fr = tables.frames.copy()
        fr["dataset"] = fr["dataset"].astype(str) if "dataset" in fr else ""
        fr["rate_point"] = fr["rate_point"].astype(str) if "rate_point" in fr else ""
        fr["value"] = pd.to_numeric(fr["value"], errors="coerce")
        rates = pd.DataFrame(
            {
                "codec": ok["codec"].astype(str),
                "dataset": ok["dataset"].astype(str),
                "sequence": ok["sequence"].astype(str),
                "rate_point": ok["rate_point"].astype(str) if "rate_point" in ok else "",
                "bpp": pd.to_numeric(ok["bpp"], errors="coerce"),
            }
        )
        page.add(
            "<h2 id='timelines'>Per-frame metrics</h2><p>One line per codec, at its rate point nearest the "
            "chosen rate (by default the anchor's median rate); the drop-down picks the sequence and rate.</p>"
        )
        groups = dict(iter(fr.groupby(["metric", "dataset"], sort=True)))
        by_metric = ordered(sorted({str(m) for m, _ in groups}))
        for (metric, dataset), g in sorted(groups.items(), key=lambda kv: by_metric.index(str(kv[0][0]))):
            fig = timeline_figure(
                g,
                str(dataset),
                str(metric),
                palette,
                lambda c: display.get(c, c),
                rates[rates["dataset"] == str(dataset)],
                resolved,
            )
            page.figure(fig)

    page.add(_comparison_section(build_comparisons(ok, tables.store, resolved, compare_bpp, flags)))

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
    anchor: str | None = DEFAULT_ANCHOR,
    method: str = "pchip",
    compare_bpp: float | None = None,
) -> Path:
    """Write the report of a run to ``out_path`` (default: ``report.html`` beside results.csv).

    Works from results.csv alone; frames.csv, dataset_metrics.csv and snapshots add sections.
    Returns the path written.
    """
    tables = load_run(run_dir_or_results_csv)
    out = Path(out_path) if out_path is not None else tables.store.report_html
    page, _ = render(tables, anchor, method, compare_bpp, title=f"codecbench report: {tables.run_dir.name}")
    atomic_write_text(out, page)
    return out
