"""Bjontegaard deltas (BD-rate, BD-quality), dataset averages, bootstrap intervals and rankings.

How a value is computed (identical to the ``bjontegaard`` package, which the tests check):
rates are taken as ``log10(rate)``; a curve is interpolated with ``pchip`` (default, JVET practice),
``cubic`` (a least-squares cubic polynomial, VCEG-M33) or ``akima``, and integrated over the
*overlap* of the two curves only.

- BD-rate: ``log10(rate)`` interpolated as a function of quality, averaged over the quality
  overlap; reported as ``(10 ** (mean log-rate difference) - 1) * 100`` percent.
- BD-quality: quality interpolated as a function of ``log10(rate)``, averaged over the log-rate
  overlap; reported in the metric's unit (dB for PSNR, VMAF points, LPIPS units, ...).

Sign convention, the same for every metric, so that "better than the anchor" always reads the same:

- BD-rate < 0 means the test codec needs less rate for the same quality (better).
- BD-quality > 0 means the test codec gives better quality at the same rate. For a lower-is-better
  metric (LPIPS, DISTS, FID, KID) the value is the *reduction* ``anchor - test``, so a positive
  BD-LPIPS means the test codec's LPIPS is lower (better).

Curves need at least :data:`MIN_POINTS` points and a non-empty overlap, else a
:class:`~codecbench.errors.CodecbenchError` says which. A curve whose quality does not strictly
improve with rate is *flagged* (``monotonic=False`` and a ``warning``), never silently fixed.

Dataset averages are the plain mean over sequences of the per-sequence values (as papers and JVET
CTC report them); they are ``NaN`` when any sequence has no value, so that an average over a subset
is never passed off as the dataset's; the row's ``warning`` then names the sequences without a value
and why. Confidence intervals (``ci_low``, ``ci_high``) are percentile bootstrap intervals over
sequences: ``n_boot`` resamples (default 2000) of the sequences with replacement, drawn from
``numpy.random.default_rng(seed)`` (default seed 0), so they are reproducible. They are given only
from :data:`MIN_CI_SEQUENCES` sequences on: with fewer the bootstrap interval is no confidence
interval at all (with three sequences it is exactly the smallest and largest per-sequence value),
so a dataset row carries the per-sequence range instead (``seq_min``, ``seq_max``, always filled).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.interpolate

from codecbench.errors import CodecbenchError
from codecbench.metrics import info as metric_info

METHODS: tuple[str, ...] = ("pchip", "cubic", "akima")
MODES: tuple[str, ...] = ("rate", "quality")
#: Fewest rate points a curve needs (VCEG-M33 fits a cubic through at least four).
MIN_POINTS = 4
#: Value of ``sequence`` in rows that hold a dataset average or a dataset-level metric (FID).
ALL_SEQUENCES = "*"
#: Fewest sequences for a bootstrap confidence interval of a dataset mean; below, only the range.
MIN_CI_SEQUENCES = 5
#: Why a dataset row with fewer than :data:`MIN_CI_SEQUENCES` sequences has a range, not an interval.
RANGE_NOTE = (
    f"with fewer than {MIN_CI_SEQUENCES} sequences a bootstrap interval is no confidence interval "
    "(with 3 it is exactly the smallest and largest per-sequence value), so the per-sequence range "
    "(min to max) is shown instead"
)

#: Columns of :func:`bd_table`'s result.
TABLE_COLUMNS = [
    "codec",
    "anchor",
    "dataset",
    "sequence",
    "metric",
    "method",
    "mode",
    "value",
    "ci_low",
    "ci_high",
    "seq_min",
    "seq_max",
    "n_sequences",
    "monotonic",
    "warning",
]


class BDUndefinedError(CodecbenchError):
    """BD of a pair of curves cannot be computed.

    ``reason`` says why in a few words for tables; ``who`` is the curve at fault ("anchor" or
    "test", whose name then starts the phrase) or "" when it is about both curves.
    """

    def __init__(self, message: str, reason: str, who: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.reason, self.who, self.detail = reason, who, detail


def _curve(rate: Sequence[float], quality: Sequence[float], who: str) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rate, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if r.ndim != 1 or r.shape != q.shape:
        raise CodecbenchError(f"{who} curve: {r.size} rates but {q.size} quality values")
    if r.size < MIN_POINTS:
        raise BDUndefinedError(
            f"{who} curve has {r.size} rate point(s); BD needs at least {MIN_POINTS} per curve",
            f"has {r.size} rate point(s), BD needs {MIN_POINTS}",
            who,
        )
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q))):
        raise BDUndefinedError(f"{who} curve has NaN or infinite values", "has NaN or infinite values", who)
    if np.any(r <= 0):
        raise BDUndefinedError(f"{who} curve has a rate <= 0; rates must be positive", "has a rate <= 0", who)
    return np.log10(r), q


def _integrator(x: np.ndarray, y: np.ndarray, method: str, who: str) -> Callable[[float, float], float]:
    """Integral of the interpolant of ``y(x)`` between two bounds."""
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if np.any(np.diff(x) == 0):
        raise BDUndefinedError(
            f"{who} curve has repeated values on the axis it is interpolated along; "
            "two rate points give the same value, so the curve cannot be interpolated",
            "has two rate points with the same value",
            who,
        )
    if method == "pchip":
        return scipy.interpolate.PchipInterpolator(x, y).integrate
    if method == "akima":
        return scipy.interpolate.Akima1DInterpolator(x, y).integrate
    if method == "cubic":
        antiderivative = np.polyint(np.polyfit(x, y, 3))
        return lambda lo, hi: float(np.polyval(antiderivative, hi) - np.polyval(antiderivative, lo))
    raise CodecbenchError(f"unknown BD method {method!r}; choose one of {', '.join(METHODS)}")


def _mean_delta(
    x_anchor: np.ndarray, y_anchor: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, method: str, axis: str
) -> float:
    """Mean of ``y_test - y_anchor`` over the overlap of the two curves' ``x`` ranges."""
    lo = max(x_anchor.min(), x_test.min())
    hi = min(x_anchor.max(), x_test.max())
    if not hi > lo:
        rate = axis == "log-rate"

        def span(x: np.ndarray) -> str:
            a, b = (10 ** x.min(), 10 ** x.max()) if rate else (x.min(), x.max())
            return f"{a:.4g} to {b:.4g}"

        raise BDUndefinedError(
            f"the curves do not overlap in {axis}: anchor spans "
            f"[{x_anchor.min():.6g}, {x_anchor.max():.6g}], "
            f"test spans [{x_test.min():.6g}, {x_test.max():.6g}]; BD is undefined",
            f"curves do not overlap in {'rate' if rate else axis} with the anchor",
            detail=f"{'rate' if rate else axis}: anchor {span(x_anchor)}, test {span(x_test)}",
        )
    f_anchor = _integrator(x_anchor, y_anchor, method, "anchor")
    f_test = _integrator(x_test, y_test, method, "test")
    return float((f_test(lo, hi) - f_anchor(lo, hi)) / (hi - lo))


def bd_rate(
    rate_anchor: Sequence[float],
    quality_anchor: Sequence[float],
    rate_test: Sequence[float],
    quality_test: Sequence[float],
    method: str = "pchip",
) -> float:
    """BD-rate in percent: the test codec's mean rate change at equal quality (negative = better)."""
    la, qa = _curve(rate_anchor, quality_anchor, "anchor")
    lt, qt = _curve(rate_test, quality_test, "test")
    return (10 ** _mean_delta(qa, la, qt, lt, method, "quality") - 1) * 100


def bd_quality(
    rate_anchor: Sequence[float],
    quality_anchor: Sequence[float],
    rate_test: Sequence[float],
    quality_test: Sequence[float],
    method: str = "pchip",
    higher_is_better: bool = True,
) -> float:
    """BD-quality (BD-PSNR, BD-VMAF, ...): mean quality gain at equal rate (positive = better).

    For a lower-is-better metric it is the mean reduction ``anchor - test``.
    """
    la, qa = _curve(rate_anchor, quality_anchor, "anchor")
    lt, qt = _curve(rate_test, quality_test, "test")
    delta = _mean_delta(la, qa, lt, qt, method, "log-rate")
    return delta if higher_is_better else -delta


def bd(
    rate_anchor: Sequence[float],
    quality_anchor: Sequence[float],
    rate_test: Sequence[float],
    quality_test: Sequence[float],
    mode: str = "rate",
    method: str = "pchip",
    higher_is_better: bool = True,
) -> float:
    """:func:`bd_rate` (``mode="rate"``) or :func:`bd_quality` (``mode="quality"``)."""
    if mode == "rate":
        return bd_rate(rate_anchor, quality_anchor, rate_test, quality_test, method)
    if mode == "quality":
        return bd_quality(rate_anchor, quality_anchor, rate_test, quality_test, method, higher_is_better)
    raise CodecbenchError(f"unknown BD mode {mode!r}; choose one of {', '.join(MODES)}")


def is_monotonic(rate: Sequence[float], quality: Sequence[float], higher_is_better: bool = True) -> bool:
    """Whether quality strictly improves as rate strictly increases (what BD assumes)."""
    r = np.asarray(rate, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    order = np.argsort(r, kind="stable")
    dr, dq = np.diff(r[order]), np.diff(q[order])
    return bool(np.all(dr > 0) and np.all(dq > 0 if higher_is_better else dq < 0))


def bootstrap_ci(
    values: Sequence[float], confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampled with replacement).

    ``NaN`` bounds when there are fewer than two values or any value is NaN.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2 or not np.all(np.isfinite(v)):
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


# --- tidy tables -------------------------------------------------------------------------------

#: Columns of a curves table (one row per codec x dataset x sequence x rate point).
CURVE_COLUMNS = ["codec", "dataset", "sequence", "rate_point", "bpp", "value"]


def curves_from_results(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rate-quality points of ``metric`` from a results.csv table: successful rows with a value."""
    missing = [c for c in ("codec", "dataset", "sequence", "bpp") if c not in results.columns]
    if missing:
        raise CodecbenchError(f"results table lacks column(s) {', '.join(missing)}")
    if metric not in results.columns:
        raise CodecbenchError(f"results table has no column {metric!r} (metric not computed in this run?)")
    df = results
    if "status" in df.columns:
        df = df[df["status"].fillna("ok") == "ok"]
    out = pd.DataFrame(
        {
            "codec": df["codec"].astype(str),
            "dataset": df["dataset"].astype(str),
            "sequence": df["sequence"].astype(str),
            "rate_point": df["rate_point"].astype(str) if "rate_point" in df else "",
            "bpp": pd.to_numeric(df["bpp"], errors="coerce"),
            "value": pd.to_numeric(df[metric], errors="coerce"),
        }
    )
    return out[np.isfinite(out["bpp"]) & np.isfinite(out["value"])].reset_index(drop=True)


def curves_from_dataset_metrics(dataset_metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rate-quality points of a distribution metric (FID, KID) from dataset_metrics.csv."""
    df = dataset_metrics[dataset_metrics["metric"].astype(str) == metric]
    if df.empty:
        raise CodecbenchError(f"dataset metrics table has no rows for metric {metric!r}")
    out = pd.DataFrame(
        {
            "codec": df["codec"].astype(str),
            "dataset": df["dataset"].astype(str),
            "sequence": ALL_SEQUENCES,
            "rate_point": df["rate_point"].astype(str),
            "bpp": pd.to_numeric(df["bpp"], errors="coerce"),
            "value": pd.to_numeric(df["value"], errors="coerce"),
        }
    )
    return out[np.isfinite(out["bpp"]) & np.isfinite(out["value"])].reset_index(drop=True)


@dataclass(frozen=True)
class _Row:
    codec: str
    anchor: str
    dataset: str
    sequence: str
    value: float
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    seq_min: float = float("nan")
    seq_max: float = float("nan")
    n_sequences: int = 1
    monotonic: bool = True
    warning: str = ""


def bd_table(
    curves: pd.DataFrame,
    anchor: str,
    metric: str,
    method: str = "pchip",
    mode: str = "rate",
    higher_is_better: bool | None = None,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """BD of every codec against ``anchor``: per sequence, and per dataset (``sequence="*"``).

    ``curves`` has the columns of :data:`CURVE_COLUMNS`. A pair that cannot be computed (too few
    points, no overlap, a sequence the anchor lacks) gets ``value=NaN`` and the reason in
    ``warning``; its dataset average is then NaN too, with a ``warning`` that names the sequences
    without a value and the reason (the same wording the report's ranking shows). Dataset rows carry
    the per-sequence range (``seq_min``, ``seq_max``) and, from :data:`MIN_CI_SEQUENCES` sequences
    on, the bootstrap confidence interval. The result has :data:`TABLE_COLUMNS`.
    """
    if method not in METHODS:
        raise CodecbenchError(f"unknown BD method {method!r}; choose one of {', '.join(METHODS)}")
    if mode not in MODES:
        raise CodecbenchError(f"unknown BD mode {mode!r}; choose one of {', '.join(MODES)}")
    if higher_is_better is None:
        higher_is_better = metric_info.higher_is_better(metric)
    if anchor not in set(curves["codec"]):
        raise CodecbenchError(f"anchor {anchor!r} has no points for metric {metric!r}")
    rows: list[_Row] = []
    for dataset, dcurves in curves.groupby("dataset", sort=True):
        anchor_seqs = {str(s): g for s, g in dcurves[dcurves["codec"] == anchor].groupby("sequence")}
        for codec, ccurves in dcurves[dcurves["codec"] != anchor].groupby("codec", sort=True):
            pair = _Pair(str(codec), anchor, str(dataset), mode, method, higher_is_better)
            rows.extend(_codec_rows(pair, ccurves, anchor_seqs, confidence, n_boot, seed))
    table = pd.DataFrame([r.__dict__ for r in rows], columns=list(_Row.__dataclass_fields__))
    table["metric"], table["method"], table["mode"] = metric, method, mode
    return table[TABLE_COLUMNS]


@dataclass(frozen=True)
class _Pair:
    codec: str
    anchor: str
    dataset: str
    mode: str
    method: str
    higher_is_better: bool


def _codec_rows(
    p: _Pair,
    ccurves: pd.DataFrame,
    anchor_seqs: dict[str, pd.DataFrame],
    confidence: float,
    n_boot: int,
    seed: int,
) -> list[_Row]:
    codec, anchor, dataset = p.codec, p.anchor, p.dataset
    rows: list[_Row] = []
    #: Short reason of each sequence without a value, for the dataset row.
    reasons: dict[str, str] = {}
    sequences = sorted(set(ccurves["sequence"]) | set(anchor_seqs))
    for seq in sequences:
        test = ccurves[ccurves["sequence"] == seq]
        ref = anchor_seqs.get(seq)
        if test.empty or ref is None:
            who = codec if test.empty else f"anchor {anchor}"
            reasons[seq] = f"{who} has no points (no successful job with a value)"
            rows.append(_Row(codec, anchor, dataset, seq, float("nan"), warning=reasons[seq]))
            continue
        mono_t = is_monotonic(test["bpp"], test["value"], p.higher_is_better)
        mono_a = is_monotonic(ref["bpp"], ref["value"], p.higher_is_better)
        notes = [f"{who} curve is not monotonic" for who, ok in ((codec, mono_t), (anchor, mono_a)) if not ok]
        try:
            value = bd(
                ref["bpp"], ref["value"], test["bpp"], test["value"], p.mode, p.method, p.higher_is_better
            )
        except CodecbenchError as e:
            if isinstance(e, BDUndefinedError):
                subject = {"test": codec, "anchor": f"anchor {anchor}"}.get(e.who, "")
                reasons[seq], detail = f"{subject} {e.reason}".strip(), e.detail
            else:
                reasons[seq], detail = str(e), ""
            value = float("nan")
            notes = [reasons[seq] + (f" ({detail})" if detail else ""), *notes]
        rows.append(
            _Row(codec, anchor, dataset, seq, value, monotonic=mono_t and mono_a, warning="; ".join(notes))
        )
    if sequences == [ALL_SEQUENCES]:
        return rows  # a dataset-level metric: its one row is the dataset value
    values = np.array([r.value for r in rows])
    monotonic = all(r.monotonic for r in rows)
    n = len(rows)
    if reasons:
        mean, low, high, smin, smax = (float("nan"),) * 5
        warning = _missing_warning(reasons, n)
    else:
        mean, smin, smax = float(values.mean()), float(values.min()), float(values.max())
        low, high = (float("nan"),) * 2
        if n >= MIN_CI_SEQUENCES:
            low, high = bootstrap_ci(values, confidence, n_boot, seed)
        warning = "" if monotonic else "some curves are not monotonic"
    rows.append(
        _Row(codec, anchor, dataset, ALL_SEQUENCES, mean, low, high, smin, smax, n, monotonic, warning)
    )
    return rows


def _missing_warning(reasons: dict[str, str], n_sequences: int) -> str:
    """Why a dataset mean is missing: the sequences without a value, grouped by reason."""
    by_reason: dict[str, list[str]] = {}
    for seq, reason in reasons.items():
        by_reason.setdefault(reason, []).append(seq)
    if len(reasons) == n_sequences:
        if len(by_reason) == 1:
            return f"no value on any sequence: {next(iter(by_reason))}"
        parts = [f"{', '.join(seqs)}: {reason}" for reason, seqs in by_reason.items()]
        return "no value on any sequence: " + "; ".join(parts)
    parts = [f"no value for {', '.join(seqs)}: {reason}" for reason, seqs in by_reason.items()]
    return "no dataset mean: " + "; ".join(parts)


def ranking(table: pd.DataFrame) -> pd.DataFrame:
    """Codecs of each dataset ordered from best to worst by their dataset BD value.

    The anchor is listed with value 0; codecs without a value come last with no rank, and their
    ``warning`` says why. Columns: dataset, rank, codec, value, ci_low, ci_high, seq_min, seq_max,
    warning.
    """
    values = ["value", "ci_low", "ci_high", "seq_min", "seq_max"]
    cols = ["dataset", "rank", "codec", *values, "warning"]
    avg = table[table["sequence"] == ALL_SEQUENCES]
    parts = []
    for dataset, g in avg.groupby("dataset", sort=True):
        mode = g["mode"].iloc[0]
        anchor_row = {"codec": g["anchor"].iloc[0]} | dict.fromkeys(values, 0.0)
        g = pd.concat([g[["codec", *values, "warning"]], pd.DataFrame([anchor_row])])
        g = g.fillna({"warning": ""})
        g = g.sort_values("value", ascending=(mode == "rate"), na_position="last", kind="stable")
        g["rank"] = np.where(np.isfinite(g["value"]), np.arange(1, len(g) + 1), np.nan)
        g["dataset"] = dataset
        parts.append(g[cols])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


def curves_for(results: pd.DataFrame, dataset_metrics: pd.DataFrame | None, metric: str) -> pd.DataFrame:
    """Curves of ``metric`` from results.csv when it is a column there, else from dataset_metrics.csv."""
    if metric in results.columns:
        return curves_from_results(results, metric)
    if dataset_metrics is not None and metric in set(dataset_metrics["metric"].astype(str)):
        return curves_from_dataset_metrics(dataset_metrics, metric)
    raise CodecbenchError(
        f"metric {metric!r} is neither a column of results.csv nor a metric of dataset_metrics.csv"
    )
