"""Plotly figures of a report: rate-distortion curves and per-frame metric timelines.

Each figure covers one dataset and one metric; a drop-down picks the dataset mean or one
sequence, and buttons switch the bpp axis between log and linear scale. Names shown inside a
figure are HTML-escaped because Plotly renders a subset of HTML in trace names.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go

#: Label of the drop-down entry that shows the mean over a dataset's sequences.
DATASET_MEAN = "dataset mean"
_PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
)  # fmt: skip


def colors(codecs: list[str]) -> dict[str, str]:
    """A stable color per codec label."""
    return {c: _PALETTE[i % len(_PALETTE)] for i, c in enumerate(codecs)}


def _views_figure(
    views: dict[str, list[go.Scatter]], title: str, x_title: str, y_title: str, log_x: bool | None
) -> go.Figure:
    """One figure whose drop-down shows one group of traces (a "view") at a time."""
    fig = go.Figure()
    visibility: list[list[bool]] = []
    names = list(views)
    total = sum(len(t) for t in views.values())
    start = 0
    for name in names:
        for trace in views[name]:
            trace.visible = name == names[0]
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
        menus.append({"buttons": buttons, "x": 0, "xanchor": "left", "y": 1.18, "yanchor": "top"})
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
    hover = "bpp %{x:.4f}<br>" + html.escape(metric) + " %{y:.4f}<extra>%{fullData.name}</extra>"
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
    title = f"{metric} vs bpp, {dataset}"
    return _views_figure(views, title, "bits per pixel", html.escape(metric), log_x=True)


def timeline_figure(
    frames: pd.DataFrame,
    dataset: str,
    metric: str,
    codec_colors: dict[str, str],
    display_name: Callable[[str], str],
) -> go.Figure:
    """Per-frame values of one metric: one line per codec and rate point, a view per sequence."""
    views: dict[str, list[go.Scatter]] = {}
    for seq in sorted(frames["sequence"].astype(str).unique()):
        df = frames[frames["sequence"].astype(str) == seq]
        traces = []
        for (codec, rate_point), g in df.groupby(["codec", "rate_point"], sort=True):
            g = g.sort_values("frame")
            name = display_name(str(codec))
            traces.append(
                go.Scatter(
                    x=g["frame"].to_numpy(),
                    y=np.asarray(g["value"], dtype=float),
                    mode="lines",
                    name=html.escape(f"{name} @ {rate_point}"),
                    legendgroup=html.escape(str(codec)),
                    line={"color": codec_colors.get(str(codec)), "dash": "dot" if name != codec else "solid"},
                )
            )
        views[seq] = traces
    title = f"per-frame {metric}, {dataset}"
    fig = _views_figure(views, title, "frame", html.escape(metric), log_x=None)
    fig.update_layout(xaxis={"type": "linear"})
    return fig
