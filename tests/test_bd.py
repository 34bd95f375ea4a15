"""BD engine: agreement with the ``bjontegaard`` package, sign conventions, errors, tables."""

from __future__ import annotations

import warnings

import bjontegaard
import numpy as np
import pandas as pd
import pytest

from codecbench import bd
from codecbench.errors import CodecbenchError


def _random_curve(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A random strictly increasing rate-PSNR curve of ``n`` points."""
    rate = np.cumsum(rng.uniform(0.2, 3.0, n)) * rng.uniform(50, 5000)
    psnr = 25 + np.cumsum(rng.uniform(0.3, 3.0, n)) + rng.uniform(-3, 3)
    return rate, psnr


@pytest.mark.parametrize("method", bd.METHODS)
def test_agrees_with_bjontegaard_on_random_monotonic_curves(method: str) -> None:
    rng = np.random.default_rng(1234)
    checked = 0
    for _ in range(300):
        ra, qa = _random_curve(rng, int(rng.integers(4, 8)))
        rt, qt = _random_curve(rng, int(rng.integers(4, 8)))  # curves may have different lengths
        if rng.random() < 0.5:  # bjontegaard accepts points in decreasing order too
            ra, qa = ra[::-1], qa[::-1]
        kw = {"method": method, "require_matching_points": False, "min_overlap": 0}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_rate = bjontegaard.bd_rate(ra, qa, rt, qt, **kw)
            ref_psnr = bjontegaard.bd_psnr(ra, qa, rt, qt, **kw)
        if not (np.isfinite(ref_rate) and np.isfinite(ref_psnr)):  # bjontegaard: NaN for no overlap
            with pytest.raises(CodecbenchError, match="do not overlap"):
                bd.bd_rate(ra, qa, rt, qt, method) if not np.isfinite(ref_rate) else bd.bd_quality(
                    ra, qa, rt, qt, method
                )
            continue
        assert bd.bd_rate(ra, qa, rt, qt, method) == pytest.approx(ref_rate, abs=1e-6, rel=1e-9)
        assert bd.bd_quality(ra, qa, rt, qt, method) == pytest.approx(ref_psnr, abs=1e-6, rel=1e-9)
        # A lower-is-better metric (say LPIPS = c - PSNR/k) reads the same way: bjontegaard on the
        # negated metric is the reference, since "better" then points the same way as for PSNR.
        la, lt = 1 - qa / 50, 1 - qt / 50
        assert bd.bd_rate(ra, la, rt, lt, method) == pytest.approx(ref_rate, abs=1e-6, rel=1e-9)
        got = bd.bd_quality(ra, la, rt, lt, method, higher_is_better=False)
        assert got == pytest.approx(ref_psnr / 50, abs=1e-6, rel=1e-9)
        checked += 1
    assert checked > 150


# --- synthetic run tables (also used by the report and leaderboard tests) ------------------------

#: Rate factor of each synthetic codec relative to the anchor at equal quality.
RATE_FACTORS = {"hevc": 1.0, "vvc": 0.75, "divinr[tiny]": 1.25}
SEQUENCES = {"seq_a": 0.0, "seq_b": 1.5, "seq_c": -1.0}
#: With 64x48 pixels and 3 frames every bpp times every factor is a whole number of bytes.
BPPS = (0.0625, 0.125, 0.25, 0.5)


def synthetic_results(codecs: dict[str, float] | None = None, dataset: str = "sample") -> pd.DataFrame:
    """results.csv rows: each codec reaches the anchor's qualities at ``factor`` times its rate.

    PSNR and VMAF grow and LPIPS falls linearly in log10(bpp), so every BD value is known exactly:
    BD-rate = (factor - 1) * 100 and BD-PSNR = -8 * log10(factor) for every method.
    """
    rows = []
    for codec, factor in (codecs or RATE_FACTORS).items():
        for seq, offset in SEQUENCES.items():
            for i, bpp in enumerate(BPPS):
                lr = np.log10(bpp)
                rows.append(
                    {
                        "codec": codec,
                        "codec_plugin": codec.split("[")[0],
                        "codec_version": "1.0",
                        "codec_config": "{}",
                        "dataset": dataset,
                        "sequence": seq,
                        "rate_point": str(40 - 5 * i),
                        "rate_parameter": "qp",
                        "width": 64,
                        "height": 48,
                        "bit_depth": 8,
                        "fps": 25.0,
                        "frames": 3,
                        "bytes": round(bpp * factor * 64 * 48 * 3 / 8),
                        "bpp": bpp * factor,
                        "kbps": bpp * factor * 64 * 48 * 25 / 1000,
                        "snapshot_path": f"snapshots/{codec}-{seq}-{i}.png",
                        "status": "ok",
                        "error": "",
                        "psnr_y": 40 + offset + 8 * lr,
                        "vmaf": 90 + offset + 10 * lr,
                        "lpips_alex": 0.05 - 0.04 * lr,
                    }
                )
    return pd.DataFrame(rows)


def test_known_values_for_every_method() -> None:
    rates = np.array(BPPS)
    psnr = 40 + 8 * np.log10(rates)
    lpips = 0.05 - 0.04 * np.log10(rates)
    for method in bd.METHODS:
        assert bd.bd_rate(rates, psnr, rates * 0.7, psnr, method) == pytest.approx(-30.0, abs=1e-9)
        assert bd.bd_quality(rates, psnr, rates, psnr + 1.0, method) == pytest.approx(1.0, abs=1e-9)
        # Lower-is-better: a test codec with lower LPIPS at the same rates is better, so positive.
        assert bd.bd_quality(rates, lpips, rates, lpips - 0.01, method, higher_is_better=False) == (
            pytest.approx(0.01, abs=1e-9)
        )
        # ...and needs less rate for the same LPIPS, so a negative BD-rate, as for PSNR.
        assert bd.bd_rate(rates, lpips, rates * 0.5, lpips, method) == pytest.approx(-50.0, abs=1e-9)


def test_error_cases() -> None:
    r = np.array(BPPS)
    q = 30 + 8 * np.log10(r)
    with pytest.raises(CodecbenchError, match="at least 4"):
        bd.bd_rate(r[:3], q[:3], r, q)
    with pytest.raises(CodecbenchError, match="do not overlap in quality"):
        bd.bd_rate(r, q, r, q + 20)
    with pytest.raises(CodecbenchError, match="do not overlap in log-rate"):
        bd.bd_quality(r, q, r * 100, q)
    with pytest.raises(CodecbenchError, match="NaN"):
        bd.bd_rate(r, np.array([30, np.nan, 32, 33]), r, q)
    with pytest.raises(CodecbenchError, match="rate <= 0"):
        bd.bd_rate(np.array([0, 1, 2, 3.0]), q, r, q)
    with pytest.raises(CodecbenchError, match="repeated values"):
        bd.bd_rate(r, np.array([20, 22, 22, 26.0]), r, q)
    with pytest.raises(CodecbenchError, match="unknown BD method"):
        bd.bd_rate(r, q, r, q, method="linear")
    with pytest.raises(CodecbenchError, match="unknown BD mode"):
        bd.bd(r, q, r, q, mode="psnr")
    with pytest.raises(CodecbenchError, match="2 rates but 3"):
        bd.bd_rate(r[:2], q[:3], r, q)


def test_monotonicity_and_direction() -> None:
    assert bd.is_monotonic([1, 2, 3, 4], [30, 31, 32, 33])
    assert not bd.is_monotonic([1, 2, 3, 4], [30, 32, 31, 33])
    assert bd.is_monotonic([4, 3, 2, 1], [0.1, 0.2, 0.3, 0.4], higher_is_better=False)
    assert bd.metric_higher_is_better("psnr_y")  # registered plugin
    assert not bd.metric_higher_is_better("lpips_vgg")
    assert not bd.metric_higher_is_better("fid")
    with pytest.raises(CodecbenchError, match="--direction"):
        bd.metric_higher_is_better("mystery")


def test_table_values_averages_and_ci() -> None:
    curves = bd.curves_from_results(synthetic_results(), "psnr_y")
    table = bd.bd_table(curves, "hevc", "psnr_y", mode="rate")
    assert list(table.columns) == bd.TABLE_COLUMNS
    per_seq = table[table["sequence"] != "*"]
    assert len(per_seq) == 2 * len(SEQUENCES)
    for codec, factor in (("vvc", 0.75), ("divinr[tiny]", 1.25)):
        got = per_seq[per_seq["codec"] == codec]["value"].to_numpy()
        assert got == pytest.approx([(factor - 1) * 100] * 3, abs=1e-6)
    avg = table[table["sequence"] == "*"].set_index("codec")
    assert avg.loc["vvc", "value"] == pytest.approx(-25.0, abs=1e-6)
    assert avg.loc["vvc", "n_sequences"] == 3
    assert avg["monotonic"].all() and (avg["warning"] == "").all()

    quality = bd.bd_table(curves, "hevc", "psnr_y", mode="quality")
    q_avg = quality[quality["sequence"] == "*"].set_index("codec")["value"]
    assert q_avg["vvc"] == pytest.approx(-8 * np.log10(0.75), abs=1e-6)
    assert q_avg["divinr[tiny]"] == pytest.approx(-8 * np.log10(1.25), abs=1e-6)

    lp = bd.bd_table(
        bd.curves_from_results(synthetic_results(), "lpips_alex"), "hevc", "lpips_alex", mode="quality"
    )
    lp_avg = lp[lp["sequence"] == "*"].set_index("codec")["value"]
    assert lp_avg["vvc"] > 0 > lp_avg["divinr[tiny]"]  # reduction of LPIPS: positive = better


def test_bootstrap_ci_is_seeded_and_brackets_the_mean() -> None:
    values = np.array([-10.0, -30.0, -25.0, -5.0, -40.0])
    low, high = bd.bootstrap_ci(values, seed=3)
    assert (low, high) == bd.bootstrap_ci(values, seed=3)
    assert low < values.mean() < high
    assert values.min() <= low and high <= values.max()
    # Against the normal approximation of the mean's sampling spread, on a larger sample.
    many = np.random.default_rng(7).normal(-20, 6, 40)
    lo, hi = bd.bootstrap_ci(many, confidence=0.95, n_boot=4000)
    half = 1.96 * many.std(ddof=0) / np.sqrt(many.size)
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.15)
    assert (lo + hi) / 2 == pytest.approx(many.mean(), abs=0.2 * half)
    assert all(np.isnan(bd.bootstrap_ci([1.0])))
    # Per-sequence values vary here, so the dataset row carries a non-degenerate interval.
    res = synthetic_results()
    res.loc[(res["codec"] == "vvc") & (res["sequence"] == "seq_b"), "bpp"] *= 0.5
    table = bd.bd_table(bd.curves_from_results(res, "psnr_y"), "hevc", "psnr_y")
    row = table[(table["codec"] == "vvc") & (table["sequence"] == "*")].iloc[0]
    assert row["ci_low"] < row["value"] < row["ci_high"]


def test_table_flags_missing_sequences_and_non_monotonic_curves() -> None:
    res = synthetic_results()
    res = res[~((res["codec"] == "vvc") & (res["sequence"] == "seq_c"))]
    bump = (res["codec"] == "divinr[tiny]") & (res["sequence"] == "seq_a") & (res["rate_point"] == "35")
    res.loc[bump, "psnr_y"] += 10  # a quality spike: not monotonic
    res.loc[(res["codec"] == "vvc") & (res["sequence"] == "seq_a"), "status"] = "failed"
    table = bd.bd_table(bd.curves_from_results(res, "psnr_y"), "hevc", "psnr_y")
    vvc = table[table["codec"] == "vvc"].set_index("sequence")
    assert np.isnan(vvc.loc["seq_c", "value"]) and "vvc has no points" in vvc.loc["seq_c", "warning"]
    assert np.isnan(vvc.loc["seq_a", "value"])  # failed rows are not used
    assert np.isnan(vvc.loc["*", "value"]) and "no value for 2 of 3" in vvc.loc["*", "warning"]
    div = table[table["codec"] == "divinr[tiny]"].set_index("sequence")
    assert not div.loc["seq_a", "monotonic"] and "not monotonic" in div.loc["seq_a", "warning"]
    assert np.isfinite(div.loc["seq_a", "value"])  # flagged, not dropped or fixed
    assert not div.loc["*", "monotonic"]


def test_ranking_orders_by_direction() -> None:
    curves = bd.curves_from_results(synthetic_results(), "psnr_y")
    rank_rate = bd.ranking(bd.bd_table(curves, "hevc", "psnr_y", mode="rate"))
    assert list(rank_rate["codec"]) == ["vvc", "hevc", "divinr[tiny]"]
    assert list(rank_rate["rank"]) == [1, 2, 3]
    rank_q = bd.ranking(bd.bd_table(curves, "hevc", "psnr_y", mode="quality"))
    assert list(rank_q["codec"]) == ["vvc", "hevc", "divinr[tiny]"]


def test_dataset_level_metric_curves() -> None:
    dm = pd.DataFrame(
        [
            {"codec": c, "dataset": "sample", "rate_point": str(i), "metric": "fid", "bpp": b * f,
             "value": 50 - 20 * np.log10(b), "sequences": 3}
            for c, f in RATE_FACTORS.items()
            for i, b in enumerate(BPPS)
        ]
    )  # fmt: skip
    curves = bd.curves_for(synthetic_results(), dm, "fid")
    table = bd.bd_table(curves, "hevc", "fid", mode="rate")
    assert set(table["sequence"]) == {"*"}
    assert table.set_index("codec").loc["vvc", "value"] == pytest.approx(-25.0, abs=1e-6)
    with pytest.raises(CodecbenchError, match="neither a column"):
        bd.curves_for(synthetic_results(), dm, "kid")
