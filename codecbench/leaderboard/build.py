"""Rendering ``results/leaderboard/`` (index.html, leaderboard.md, leaderboard.json).

Every submission is compared with the HEVC anchor rows it carries (the anchor run in the same
environment), per sequence, then averaged over the dataset's sequences: with at least
:data:`codecbench.bd.MIN_CI_SEQUENCES` sequences the mean carries a bootstrap confidence interval,
below it the per-sequence range (smallest and largest per-sequence value), labelled as such.
Codecs of a dataset are ranked per metric by BD-rate and by BD-quality, and each submission says
whether its bitstreams are stored, so that ``leaderboard verify`` can re-check it.

The pages are a function of ``results/`` alone: no clock (the date shown is the latest
submission's), stable ordering, so building twice gives byte-identical files. Every string that
comes from a submission is HTML-escaped (and Markdown-escaped in the .md file).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from codecbench import bd
from codecbench.errors import CodecbenchError
from codecbench.leaderboard.schema import ANCHOR_PLUGIN, DEFAULT_SETTING, Submission
from codecbench.leaderboard.store import (
    LEADERBOARD,
    inside,
    load_submission_files,
    stored_bitstreams,
    write_atomic,
)
from codecbench.metrics.info import ordered
from codecbench.registry import is_stand_in
from codecbench.report.bdsection import CONFIDENCE, dataset_cell, fmt_number

#: What the parentheses after a dataset value hold, in the pages' legends.
INTERVAL_NOTE = (
    f"In parentheses after a value: with {bd.MIN_CI_SEQUENCES} or more sequences, the {CONFIDENCE:.0%} bootstrap confidence "
    "interval of the mean over sequences; with fewer, the per-sequence range (the smallest and largest "
    "per-sequence value), which is not a confidence interval."
)
BITSTREAMS_NOTE = (
    "Bitstreams: whether every row's bitstream is stored under results/bitstreams, so that "
    "codecbench leaderboard verify can re-decode it and re-check the row; unverifiable otherwise."
)


def _curves(sub: Submission, metric: str, anchor: bool) -> pd.DataFrame:
    part = sub.data["anchor"] if anchor else sub.data
    label = "anchor" if anchor else "test"
    rows = [
        (label, sub.dataset, r["sequence"], r["rate_point"], r["bpp"], r["metrics"][metric])
        for r in part["rows"]
        if metric in r["metrics"]
    ]
    rows += [
        (label, sub.dataset, bd.ALL_SEQUENCES, r["rate_point"], r["bpp"], r["value"])
        for r in part.get("dataset_metrics") or []
        if r["metric"] == metric
    ]
    return pd.DataFrame(rows, columns=bd.CURVE_COLUMNS)


def _metrics_of(sub: Submission) -> list[str]:
    names = set(sub.metrics)
    names |= {r["metric"] for r in sub.data.get("dataset_metrics") or []}
    return sorted(names)


def bitstream_status(results: Path, sub: Submission) -> str:
    """``stored``, ``N of M missing`` or ``none (format 1)``: whether ``sub`` can be re-checked."""
    if not sub.has_provenance:
        return "none (format 1)"
    present, total = stored_bitstreams(results, sub)
    return "stored" if present == total else f"{total - present} of {total} missing"


def entries(subs: list[Submission], status: dict[int, str] | None = None) -> pd.DataFrame:
    """One row per submission x metric x mode: its dataset BD value against its HEVC rows, with the
    bootstrap interval (``ci_low``, ``ci_high``) or, below 5 sequences, the per-sequence range
    (``seq_min``, ``seq_max``); ``interval`` says which ("ci", "range" or ""). ``status`` maps a
    submission's index to its bitstream status."""
    out: list[dict[str, Any]] = []
    for i, sub in enumerate(subs):
        for metric in _metrics_of(sub):
            curves = pd.concat([_curves(sub, metric, False), _curves(sub, metric, True)])
            has_seq = (curves["sequence"] != bd.ALL_SEQUENCES).any()
            if has_seq:  # sequence curves and dataset-level curves are never mixed in one BD
                curves = curves[curves["sequence"] != bd.ALL_SEQUENCES]
            for mode in bd.MODES:
                base = {
                    "dataset": sub.dataset,
                    "setting": sub.setting,
                    "codec": sub.codec,
                    "version": sub.version,
                }
                base["metric"] = metric
                base |= {
                    "mode": mode,
                    "date": sub.data["date"],
                    "anchor_version": sub.data["anchor"]["version"],
                    "bitstreams": (status or {}).get(i, ""),
                }
                if is_stand_in(sub.codec, str(sub.data["codec"].get("plugin", ""))):
                    base["stand_in"] = True
                try:
                    table = bd.bd_table(curves, "anchor", metric, mode=mode, confidence=CONFIDENCE)
                    row = table[table["sequence"] == bd.ALL_SEQUENCES].iloc[0]
                    cell = dataset_cell(row)
                    values = {k: float(row[k]) for k in ("value", "ci_low", "ci_high", "seq_min", "seq_max")}
                    out.append(
                        base
                        | values
                        | {"n_sequences": int(row["n_sequences"]), "interval": cell.interval}
                        | {"warning": row["warning"] if isinstance(row["warning"], str) else ""}
                    )
                except (CodecbenchError, IndexError) as e:
                    nan = dict.fromkeys(("value", "ci_low", "ci_high", "seq_min", "seq_max"), math.nan)
                    out.append(base | nan | {"n_sequences": 0, "interval": "", "warning": str(e)})
    return pd.DataFrame(out)


Rankings = dict[str, dict[str, dict[str, dict[str, list[dict[str, Any]]]]]]


def rankings(table: pd.DataFrame) -> Rankings:
    """``{dataset: {setting: {metric: {"rate"|"quality": [ranked entries, best first]}}}}``: codecs
    are ranked among those compared with an anchor in the same setting (low delay, random access)."""
    result: Rankings = {}
    if table.empty:
        return result
    for (dataset, setting, metric, mode), g in table.groupby(
        ["dataset", "setting", "metric", "mode"], sort=True
    ):
        g = g.sort_values("value", ascending=(mode == "rate"), na_position="last", kind="stable")
        ranked, rank = [], 0
        for r in g.to_dict("records"):
            finite = math.isfinite(r["value"])
            rank += finite
            ranked.append({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                          | {"rank": rank if finite else None})  # fmt: skip
        result.setdefault(dataset, {}).setdefault(setting, {}).setdefault(metric, {})[mode] = ranked
    return result


#: How a setting is named in headings.
SETTING_NAMES = {"ld": "low delay", "ra": "random access"}


def setting_title(setting: str) -> str:
    """``against HEVC, random access (config=ra)``, or ``against HEVC`` for the default setting."""
    if setting == DEFAULT_SETTING:
        return "against HEVC"
    name = SETTING_NAMES.get(setting)
    return f"against HEVC, {name} (config={setting})" if name else f"against HEVC, config={setting}"


def _fmt(entry: dict[str, Any], mode: str) -> str:
    """``-12.34 % (per-sequence range -20.00 % to -5.00 %)``, ``(95% CI ...)`` from 5 sequences on,
    or ``n/a``."""
    value = entry.get("value")
    if value is None or not math.isfinite(value):
        return "n/a"
    text = fmt_number(value, mode)
    kind = entry.get("interval")
    if kind == "ci":
        low, high = entry["ci_low"], entry["ci_high"]
        label = f"{CONFIDENCE:.0%} CI"
    elif kind == "range":
        low, high = entry["seq_min"], entry["seq_max"]
        label = "per-sequence range"
    else:
        return text
    return f"{text} ({label} {fmt_number(low, mode)} to {fmt_number(high, mode)})"


def _md(text: Any) -> str:
    """Markdown-safe cell text: escape table and markup characters."""
    return re.sub(r"([\\|`*_\[\]<>#])", r"\\\1", str(text))


def _tables(ranks: Rankings) -> list[tuple[str, dict[str, Any], bool]]:
    """``(dataset, {"setting", "metrics"}, first of its dataset)`` for each dataset and setting, in order."""
    out = []
    for dataset, settings in ranks.items():
        for i, (setting, metrics) in enumerate(settings.items()):
            out.append((dataset, {"setting": setting, "metrics": metrics}, i == 0))
    return out


def render_markdown(ranks: Rankings, as_of: str) -> str:
    lines = [
        "# codecbench leaderboard",
        "",
        f"Submissions up to {as_of}. BD against each submission's own HEVC anchor rows (pchip); "
        "BD-rate < 0 and BD-quality > 0 mean better than HEVC for every metric. "
        f"{INTERVAL_NOTE} {BITSTREAMS_NOTE}",
    ]
    for dataset, metrics, heading in _tables(ranks):
        if heading:
            lines += ["", f"## {_md(dataset)}"]
        lines += ["", f"### {_md(setting_title(metrics['setting']))}"]
        for metric in ordered(list(metrics["metrics"])):
            lines += ["", f"#### {_md(metric)}", ""]
            lines += [
                "| rank | codec | version | BD-rate | BD-quality | bitstreams |",
                "|---:|---|---|---:|---:|---|",
            ]
            table = metrics["metrics"][metric]
            quality = {(e["codec"], e["version"]): e for e in table.get("quality", [])}
            for e in table.get("rate", []):
                q = quality.get((e["codec"], e["version"]), {})
                cells = [
                    e["rank"] or "",
                    _md(e["codec"]) + (" (stand-in)" if e.get("stand_in") else ""),
                    _md(e["version"]),
                    _fmt(e, "rate"),
                    _fmt(q, "quality"),
                    _md(e["bitstreams"]),
                ]
                lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def render_html(ranks: Rankings, subs: list[Submission], as_of: str, status: dict[int, str]) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>codecbench leaderboard</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:.5em 0 1.2em}th,td{border:1px solid #ccc;padding:.25em .6em}"
        "th{background:#f3f3f3}td.n{text-align:right}pre{white-space:pre-wrap;font-size:.8em}</style></head><body>",
        "<h1>codecbench leaderboard</h1>",
        f"<p>Submissions up to {esc(as_of)}. BD against each submission's own HEVC anchor rows (pchip). "
        "BD-rate &lt; 0 and BD-quality &gt; 0 mean better than HEVC for every metric (for LPIPS, DISTS "
        f"and FID the BD-quality is the reduction). {esc(INTERVAL_NOTE)} {esc(BITSTREAMS_NOTE)}</p>",
    ]
    for dataset, metrics, heading in _tables(ranks):
        if heading:
            parts.append(f"<h2>{esc(dataset)}</h2>")
        parts.append(f"<h3>{esc(setting_title(metrics['setting']))}</h3>")
        for metric in ordered(list(metrics["metrics"])):
            parts.append(f"<h4>{esc(metric)}</h4><table><tr><th>rank</th><th>codec</th><th>version</th>"
                         "<th>BD-rate</th><th>BD-quality</th><th>bitstreams</th><th>notes</th></tr>")  # fmt: skip
            table = metrics["metrics"][metric]
            quality = {(e["codec"], e["version"]): e for e in table.get("quality", [])}
            for e in table.get("rate", []):
                q = quality.get((e["codec"], e["version"]), {})
                parts.append(
                    f"<tr><td class='n'>{e['rank'] or ''}</td><td>{esc(e['codec'])}</td><td>{esc(e['version'])}"
                    f"</td><td class='n'>{esc(_fmt(e, 'rate'))}</td><td class='n'>{esc(_fmt(q, 'quality'))}</td>"
                    f"<td>{esc(e['bitstreams'])}</td>"
                    f"<td>{'stand-in model, not the published one. ' if e.get('stand_in') else ''}"
                    f"{esc(e.get('warning') or '')}</td></tr>"
                )
            parts.append("</table>")
    parts.append("<h2>Submissions</h2>")
    for i, sub in enumerate(subs):
        d = sub.data
        prov = {k: d[k] for k in ("codec", "environment", "date", "codecbench_version", "format")}
        prov["setting"] = sub.setting
        prov["anchor"] = {k: v for k, v in d["anchor"].items() if k not in ("rows", "dataset_metrics")}
        prov["sequences"] = d["dataset"]["sequences"]
        prov["bitstreams"] = status[i]
        parts.append(
            f"<details><summary>{esc(sub.codec)} {esc(sub.version)} on {esc(sub.dataset)}, "
            f"{esc(setting_title(sub.setting))} ({esc(d['date'])})"
            f"</summary><pre>{esc(json.dumps(prov, indent=1, sort_keys=True))}</pre></details>"
        )
    parts.append("</body></html>")
    return "".join(parts) + "\n"


def _latest_date(subs: list[Submission]) -> str:
    """The latest submission date (dates are validated ISO 8601; naive ones read as UTC)."""

    def key(sub: Submission) -> tuple[dt.datetime, str]:
        date = dt.datetime.fromisoformat(sub.data["date"])
        return (date if date.tzinfo else date.replace(tzinfo=dt.UTC), sub.data["date"])

    return max(map(key, subs))[1]


def render(results: Path) -> dict[str, str]:
    """The leaderboard files (name -> text) of every submission under ``results``: a function of
    the submissions and stored bitstreams only, so equal inputs give byte-identical files."""
    stored = load_submission_files(results)
    if not stored:
        raise CodecbenchError(
            f"no submissions under {results / 'submissions'}; add one with leaderboard submit"
        )
    subs = [sub for _, sub in stored]
    status = {i: bitstream_status(results, sub) for i, sub in enumerate(subs)}
    ranks = rankings(entries(subs, status))
    as_of = _latest_date(subs)
    listing = [
        {"dataset": s.dataset, "setting": s.setting, "codec": s.codec, "version": s.version, "date": s.data["date"],
         "format": s.format, "bitstreams": status[i], "file": path.relative_to(results).as_posix()}
        for i, (path, s) in enumerate(stored)
    ]  # fmt: skip
    board = {
        "as_of": as_of,
        "anchor": ANCHOR_PLUGIN,
        "method": "pchip",
        "intervals": INTERVAL_NOTE,
        "datasets": ranks,
        "submissions": listing,
    }
    return {
        "index.html": render_html(ranks, subs, as_of, status),
        "leaderboard.md": render_markdown(ranks, as_of),
        "leaderboard.json": json.dumps(board, indent=1, allow_nan=False, default=str) + "\n",
    }


def _output(results: Path) -> Path:
    out = results / LEADERBOARD
    if out.is_symlink():
        raise CodecbenchError(f"refusing {out}: it is a symbolic link")
    return out


def build(results: Path) -> Path:
    """Render the leaderboard of every submission under ``results``; returns its folder."""
    files = render(results)
    out = _output(results)
    out.mkdir(parents=True, exist_ok=True)
    inside(results, out)
    for name, text in files.items():
        path = out / name
        if path.is_symlink():
            raise CodecbenchError(f"refusing {path}: it is a symbolic link")
        write_atomic(path, text.encode("utf-8"))
    return out


def stale(results: Path) -> list[str]:
    """Names of the leaderboard files that differ from what :func:`build` would write now (or are
    missing): empty when ``results/leaderboard`` is up to date."""
    out = _output(results)
    names = []
    for name, text in render(results).items():
        path = out / name
        if path.is_symlink() or not path.is_file() or path.read_bytes() != text.encode("utf-8"):
            names.append(name)
    return names
