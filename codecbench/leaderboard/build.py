"""Rendering ``results/leaderboard/`` (index.html, leaderboard.md, leaderboard.json).

Every submission is compared with the HEVC anchor rows it carries (the anchor run in the same
environment), per sequence, then averaged over the dataset's sequences with a bootstrap interval;
codecs of a dataset are ranked per metric by BD-rate and by BD-quality. Every string that comes
from a submission is HTML-escaped (and Markdown-escaped in the .md file).
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
from codecbench.leaderboard.schema import Submission
from codecbench.leaderboard.store import LEADERBOARD, inside, load_submissions
from codecbench.report.bdsection import fmt_value, ordered


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


def entries(subs: list[Submission]) -> pd.DataFrame:
    """One row per submission x metric x mode: its dataset BD value against its HEVC rows."""
    out: list[dict[str, Any]] = []
    for sub in subs:
        for metric in _metrics_of(sub):
            curves = pd.concat([_curves(sub, metric, False), _curves(sub, metric, True)])
            has_seq = (curves["sequence"] != bd.ALL_SEQUENCES).any()
            if has_seq:  # sequence curves and dataset-level curves are never mixed in one BD
                curves = curves[curves["sequence"] != bd.ALL_SEQUENCES]
            for mode in bd.MODES:
                base = {"dataset": sub.dataset, "codec": sub.codec, "version": sub.version, "metric": metric}
                base |= {
                    "mode": mode,
                    "date": sub.data["date"],
                    "anchor_version": sub.data["anchor"]["version"],
                }
                if "[tiny]" in sub.codec:
                    base["stand_in"] = True
                try:
                    table = bd.bd_table(curves, "anchor", metric, mode=mode)
                    row = table[table["sequence"] == bd.ALL_SEQUENCES].iloc[0]
                    out.append(base | {k: row[k] for k in ("value", "ci_low", "ci_high", "warning")})
                except (CodecbenchError, IndexError) as e:
                    out.append(
                        base | {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan, "warning": str(e)}
                    )
    return pd.DataFrame(out)


def rankings(table: pd.DataFrame) -> dict[str, dict[str, dict[str, list[dict[str, Any]]]]]:
    """``{dataset: {metric: {"rate"|"quality": [ranked entries, best first]}}}``."""
    result: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {}
    if table.empty:
        return result
    for (dataset, metric, mode), g in table.groupby(["dataset", "metric", "mode"], sort=True):
        g = g.sort_values("value", ascending=(mode == "rate"), na_position="last", kind="stable")
        ranked, rank = [], 0
        for r in g.to_dict("records"):
            finite = math.isfinite(r["value"])
            rank += finite
            ranked.append({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                          | {"rank": rank if finite else None})  # fmt: skip
        result.setdefault(dataset, {}).setdefault(metric, {})[mode] = ranked
    return result


def _fmt(entry: dict[str, Any], mode: str) -> str:
    v, lo, hi = (entry.get(k) for k in ("value", "ci_low", "ci_high"))
    nan = math.nan
    return bd_fmt(nan if v is None else v, mode, nan if lo is None else lo, nan if hi is None else hi)


def bd_fmt(value: float, mode: str, low: float, high: float) -> str:
    return fmt_value(value, mode, low, high)


def _md(text: Any) -> str:
    """Markdown-safe cell text: escape table and markup characters."""
    return re.sub(r"([\\|`*_\[\]<>#])", r"\\\1", str(text))


def render_markdown(ranks: dict[str, Any], generated: str) -> str:
    lines = [
        "# codecbench leaderboard",
        "",
        f"Generated {generated}. BD against each submission's own HEVC anchor rows (pchip); "
        "BD-rate < 0 and BD-quality > 0 mean better than HEVC for every metric. "
        "Brackets: 95% bootstrap interval over sequences.",
    ]
    for dataset, metrics in ranks.items():
        lines += ["", f"## {_md(dataset)}"]
        for metric in ordered(list(metrics)):
            lines += ["", f"### {_md(metric)}", "", "| rank | codec | version | BD-rate | BD-quality |"]
            lines += ["|---:|---|---|---:|---:|"]
            quality = {(e["codec"], e["version"]): e for e in metrics[metric].get("quality", [])}
            for e in metrics[metric].get("rate", []):
                q = quality.get((e["codec"], e["version"]), {})
                cells = [
                    e["rank"] or "",
                    _md(e["codec"]) + (" (stand-in)" if e.get("stand_in") else ""),
                    _md(e["version"]),
                    _fmt(e, "rate"),
                    _fmt(q, "quality"),
                ]
                lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def render_html(ranks: dict[str, Any], subs: list[Submission], generated: str) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>codecbench leaderboard</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:.5em 0 1.2em}th,td{border:1px solid #ccc;padding:.25em .6em}"
        "th{background:#f3f3f3}td.n{text-align:right}pre{white-space:pre-wrap;font-size:.8em}</style></head><body>",
        "<h1>codecbench leaderboard</h1>",
        f"<p>Generated {esc(generated)}. BD against each submission's own HEVC anchor rows (pchip). "
        "BD-rate &lt; 0 and BD-quality &gt; 0 mean better than HEVC for every metric (for LPIPS, DISTS "
        "and FID the BD-quality is the reduction). Brackets: 95% bootstrap interval over sequences.</p>",
    ]
    for dataset, metrics in ranks.items():
        parts.append(f"<h2>{esc(dataset)}</h2>")
        for metric in ordered(list(metrics)):
            parts.append(f"<h3>{esc(metric)}</h3><table><tr><th>rank</th><th>codec</th><th>version</th>"
                         "<th>BD-rate</th><th>BD-quality</th><th>notes</th></tr>")  # fmt: skip
            quality = {(e["codec"], e["version"]): e for e in metrics[metric].get("quality", [])}
            for e in metrics[metric].get("rate", []):
                q = quality.get((e["codec"], e["version"]), {})
                parts.append(
                    f"<tr><td class='n'>{e['rank'] or ''}</td><td>{esc(e['codec'])}</td><td>{esc(e['version'])}"
                    f"</td><td class='n'>{esc(_fmt(e, 'rate'))}</td><td class='n'>{esc(_fmt(q, 'quality'))}</td>"
                    f"<td>{'stand-in model, not the published one. ' if e.get('stand_in') else ''}"
                    f"{esc(e.get('warning') or '')}</td></tr>"
                )
            parts.append("</table>")
    parts.append("<h2>Submissions</h2>")
    for sub in subs:
        d = sub.data
        prov = {k: d[k] for k in ("codec", "environment", "date", "codecbench_version")}
        prov["anchor"] = {k: v for k, v in d["anchor"].items() if k not in ("rows", "dataset_metrics")}
        prov["sequences"] = d["dataset"]["sequences"]
        parts.append(
            f"<details><summary>{esc(sub.codec)} {esc(sub.version)} on {esc(sub.dataset)} ({esc(d['date'])})"
            f"</summary><pre>{esc(json.dumps(prov, indent=1, sort_keys=True))}</pre></details>"
        )
    parts.append("</body></html>")
    return "".join(parts)


def build(results: Path) -> Path:
    """Render the leaderboard of every submission under ``results``; returns its folder."""
    subs = load_submissions(results)
    if not subs:
        raise CodecbenchError(
            f"no submissions under {results / 'submissions'}; add one with leaderboard submit"
        )
    ranks = rankings(entries(subs))
    generated = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out = results / LEADERBOARD
    if out.is_symlink():
        raise CodecbenchError(f"refusing {out}: it is a symbolic link")
    out.mkdir(parents=True, exist_ok=True)
    inside(results, out)
    files = {
        "index.html": render_html(ranks, subs, generated),
        "leaderboard.md": render_markdown(ranks, generated),
        "leaderboard.json": json.dumps(
            {"generated": generated, "anchor": "hevc", "method": "pchip", "datasets": ranks},
            indent=1, allow_nan=False, default=str,
        ) + "\n",
    }  # fmt: skip
    for name, text in files.items():
        path = out / name
        if path.is_symlink():
            raise CodecbenchError(f"refusing {path}: it is a symbolic link")
        path.write_text(text, encoding="utf-8")
    return out
