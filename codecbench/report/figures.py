"""Plotly figures of a report: rate-distortion curves and per-frame metric timelines.

Each figure covers one dataset and one metric; a drop-down picks the view (the dataset mean or one
sequence; for timelines, a sequence and a rate), and buttons switch the bpp axis between log and
linear scale. Axes carry the metric's display name and unit (:mod:`codecbench.report.labels`).
Names shown inside a figure are HTML-escaped because Plotly renders a subset of HTML in trace names.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from codecbench.metrics.info import metric_info
from codecbench.report.labels import BPP_TITLE, codec_colors

#: Label of the drop-down entry that shows the mean over a dataset's sequences.
DATASET_MEAN = "dataset mean"


def colors(codecs: list[str]) -> dict[str, str]:
    """A colour per codec label that does not depend on the other codecs of the report."""
    return codec_colors(codecs)


def _views_figure(
    views: dict[str, list[go.Scatter]],
    title: str,
    x_title: str,
    y_title: str,
    log_x: bool | None,
    active: int = 0,
) -> go.Figure:
    """One figure whose drop-down shows one group of traces (a "view") at a time, ``active`` first."""
    fig = go.Figure()
    visibility: list[list[bool]] = []
    names = list(views)
    total = sum(len(t) for t in views.values())
    start = 0
    for i, name in enumerate(names):
        for trace in views[name]:
            trace.visible = i == active
            fig.add_trace(trace)
        mask = [False] * total
        mask[start : start + len(views[name])] = [True] * len(views[name])
        visibility.append(mask)
        start += len(views[name])
    menus = []
    if len(names) > 1:
        buttons = [
            {"label": html.escape(n), "method": "update", "args": [{"visible": vis}]}
            for n, vis in zip(names, visibility, strict=True)
        ]
        menus.append(
            {"buttons": buttons, "active": active, "x": 0, "xanchor": "left", "y": 1.18, "yanchor": "top"}
        )
    if log_x is not None:
        axis_buttons = [
            {"label": "log bpp", "method": "relayout", "args": [{"xaxis.type": "log"}]},
            {"label": "linear bpp", "method": "relayout", "args": [{"xaxis.type": "linear"}]},
        ]
        menus.append(
            {"type": "buttons", "direction": "right", "buttons": axis_buttons, "x": 1, "xanchor": "right",
             "y": 1.18, "yanchor": "top", "active": 0 if log_x else 1}
        )  # fmt: skip
    fig.update_layout(
        title={"text": html.escape(title), "y": 0.97},
        xaxis={"title": {"text": x_title}, "type": "log" if log_x else "linear"},
        yaxis={"title": {"text": y_title}},
        updatemenus=menus,
        margin={"t": 110, "l": 60, "r": 20, "b": 50},
        height=460,
        legend={"title": {"text": "codec"}},
    )
    return fig


def _mean_curve(points: pd.DataFrame, n_sequences: int) -> pd.DataFrame:
    """Mean bpp and value per rate point, only over rate points every sequence has."""
    g = points.groupby("rate_point").agg(bpp=("bpp", "mean"), value=("value", "mean"), n=("value", "size"))
    return g[g["n"] == n_sequences].sort_values("bpp")


def rd_figure(
    points: pd.DataFrame,
    dataset: str,
    metric: str,
    codec_colors: dict[str, str],
    display_name: Callable[[str], str],
) -> go.Figure:
    """RD curves of every codec for one dataset and metric (bpp on x, metric on y).

    ``points`` has the columns codec, sequence, rate_point, bpp, value (successful jobs only).
    """
    sequences = sorted(points["sequence"].astype(str).unique())
    views: dict[str, list[go.Scatter]] = {}
    per_view: list[tuple[str, pd.DataFrame, bool]] = []
    if len(sequences) > 1:
        per_view.append((DATASET_MEAN, points, True))
    per_view += [(s, points[points["sequence"] == s], False) for s in sequences]
    label = metric_info(metric)
    hover = (
        "%{x:.4f} bpp<br>" + html.escape(label.display) + " %{y:.4f} " + html.escape(label.unit)
        + "<extra>%{fullData.name}</extra>"
    )  # fmt: skip
    for view, df, average in per_view:
        traces = []
        for codec in sorted(df["codec"].unique()):
            c = df[df["codec"] == codec]
            curve = _mean_curve(c, len(sequences)) if average else c.sort_values("bpp")
            if curve.empty:
                continue
            name = display_name(codec)
            stand_in = name != codec
            traces.append(
                go.Scatter(
                    x=curve["bpp"].to_numpy(),
                    y=curve["value"].to_numpy(),
                    mode="lines+markers",
                    name=html.escape(name),
                    line={"color": codec_colors.get(codec), "dash": "dot" if stand_in else "solid"},
                    text=[html.escape(str(r)) for r in curve.index] if average else None,
                    hovertemplate=hover,
                )
            )
        views[view] = traces
    title = f"{label.display} vs bpp, {dataset}"
    return _views_figure(views, title, BPP_TITLE, html.escape(label.title), log_x=True)


def _ladder_choice(ladders: dict[str, pd.DataFrame], target: float | None) -> dict[str, str]:
    """Each codec's rate point nearest ``target`` bpp (log scale); the middle of its ladder (ordered
    by quality) when its bpp is unknown or there is no target."""
    chosen = {}
    for codec, ladder in ladders.items():
        known = ladder[np.isfinite(ladder["bpp"]) & (ladder["bpp"] > 0)]
        if target is not None and len(known):
            chosen[codec] = str(
                known.iloc[int(np.argmin(np.abs(np.log(known["bpp"] / target))))]["rate_point"]
            )
        else:
            by_quality = ladder.sort_values("mean", kind="stable")
            chosen[codec] = str(by_quality.iloc[(len(by_quality) - 1) // 2]["rate_point"])
    return chosen


def _ladders(df: pd.DataFrame, bpp: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """Per codec: its rate points with their bpp (NaN when unknown) and mean per-frame value."""
    ladder = df.groupby(["codec", "rate_point"], sort=True)["value"].mean().rename("mean").reset_index()
    if bpp is not None and len(bpp):
        known = bpp[["codec", "rate_point", "bpp"]].drop_duplicates(["codec", "rate_point"])
        ladder = ladder.merge(known, on=["codec", "rate_point"], how="left")
    else:
        ladder["bpp"] = np.nan
    ladder["bpp"] = pd.to_numeric(ladder["bpp"], errors="coerce")
    return {str(c): g.reset_index(drop=True) for c, g in ladder.groupby("codec", sort=True)}


def _targets(ladders: dict[str, pd.DataFrame], anchor: str | None) -> tuple[list[float], int]:
    """The rates a timeline can be viewed at, and the default one: the bpp of each rate point of
    the anchor (else of the codec with the most known rates), defaulting to the one nearest the
    median, as the visual comparison does."""
    known = {c: ld["bpp"][np.isfinite(ld["bpp"]) & (ld["bpp"] > 0)] for c, ld in ladders.items()}
    known = {c: b for c, b in known.items() if len(b)}
    if not known:
        return [], 0
    ref = anchor if anchor in known else max(sorted(known), key=lambda c: len(known[c]))
    targets = sorted({float(b) for b in known[ref]})
    median = float(np.median(known[ref]))
    return targets, int(np.argmin([abs(np.log(t / median)) for t in targets]))


def timeline_figure(
    frames: pd.DataFrame,
    dataset: str,
    metric: str,
    codec_colors: dict[str, str],
    display_name: Callable[[str], str],
    bpp: pd.DataFrame | None = None,
    anchor: str | None = None,
) -> go.Figure:
    """Per-frame values of one metric: one line per codec, at one rate point per codec.

    ``frames`` has the columns sequence, codec, rate_point, frame, value; ``bpp`` (columns codec,
    sequence, rate_point, bpp) gives each rate point's rate. A view is a sequence and a rate (the
    bpp of one of the anchor's rate points): each codec shows its rate point nearest that rate.
    The first view is the first sequence at the anchor's median rate.
    """
    label = metric_info(metric)
    hover = (
        "frame %{x}<br>" + html.escape(label.display) + " %{y:.4f} " + html.escape(label.unit)
        + "<extra>%{fullData.name}</extra>"
    )  # fmt: skip
    views: dict[str, list[go.Scatter]] = {}
    active = -1
    for seq in sorted(frames["sequence"].astype(str).unique()):
        df = frames[frames["sequence"].astype(str) == seq]
        rates = bpp[bpp["sequence"].astype(str) == seq] if bpp is not None else None
        ladders = _ladders(df, rates)
        targets, default = _targets(ladders, anchor)
        for i, target in enumerate(targets or [None]):
            chosen = _ladder_choice(ladders, target)
            traces = []
            for codec, rate_point in chosen.items():
                g = df[(df["codec"] == codec) & (df["rate_point"] == rate_point)].sort_values("frame")
                rate = ladders[codec].set_index("rate_point")["bpp"].get(rate_point, np.nan)
                name = display_name(codec)
                at = f"{name} @ {rate_point}" + (f" ({rate:.4f} bpp)" if np.isfinite(rate) else "")
                traces.append(
                    go.Scatter(
                        x=g["frame"].to_numpy(),
                        y=np.asarray(g["value"], dtype=float),
                        mode="lines",
                        name=html.escape(at),
                        legendgroup=html.escape(codec),
                        line={"color": codec_colors.get(codec), "dash": "dot" if name != codec else "solid"},
                        hovertemplate=hover,
                    )
                )
            view = seq if target is None else f"{seq}, near {target:.3g} bpp"
            if active < 0 and i == default:
                active = len(views)
            views[view] = traces
    title = f"per-frame {label.display}, {dataset}"
    fig = _views_figure(views, title, "frame", html.escape(label.title), log_x=None, active=max(active, 0))
    fig.update_layout(xaxis={"type": "linear"})
    return fig
