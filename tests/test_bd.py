"""BD engine: agreement with the ``bjontegaard`` package, sign conventions, errors, tables."""

from __future__ import annotations

import warnings

import bjontegaard
import numpy as np
import pandas as pd
import pytest

from codecbench import bd
from codecbench.errors import CodecbenchError
from codecbench.metrics.info import higher_is_better


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


def synthetic_results(
    codecs: dict[str, float] | None = None,
    dataset: str = "sample",
    sequences: dict[str, float] | None = None,
) -> pd.DataFrame:
    """results.csv rows: each codec reaches the anchor's qualities at ``factor`` times its rate.

    PSNR and VMAF grow and LPIPS falls linearly in log10(bpp), so every BD value is known exactly:
    BD-rate = (factor - 1) * 100 and BD-PSNR = -8 * log10(factor) for every method.
    """
    rows = []
    for codec, factor in (codecs or RATE_FACTORS).items():
        for seq, offset in (sequences or SEQUENCES).items():
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
    assert higher_is_better("psnr_y")  # registered plugin
    assert not higher_is_better("lpips_vgg")
    assert not higher_is_better("fid")
    with pytest.raises(CodecbenchError, match="--direction"):
        higher_is_better("mystery")


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
    # With 3 values the 2.5 % and 97.5 % bootstrap quantiles are the minimum and maximum (each
    # all-equal resample has probability 1/27 > 2.5 %): that is why tables give the range instead.
    assert bd.bootstrap_ci([-5.0, -20.0, -30.0]) == (-30.0, -5.0)


def _varied(n_sequences: int) -> pd.DataFrame:
    """BD table of psnr_y over ``n_sequences`` sequences where vvc's BD-rate varies by sequence."""
    seqs = {f"s{i}": 0.5 * i for i in range(n_sequences)}
    res = synthetic_results(sequences=seqs)
    for i, seq in enumerate(seqs):
        res.loc[(res["codec"] == "vvc") & (res["sequence"] == seq), "bpp"] *= 1 - 0.1 * i
    return bd.bd_table(bd.curves_from_results(res, "psnr_y"), "hevc", "psnr_y")


def test_few_sequences_give_a_range_not_a_confidence_interval() -> None:
    table = _varied(3)
    per_seq = table[(table["codec"] == "vvc") & (table["sequence"] != "*")]["value"]
    row = table[(table["codec"] == "vvc") & (table["sequence"] == "*")].iloc[0]
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])  # no interval called a CI
    assert (row["seq_min"], row["seq_max"]) == pytest.approx((per_seq.min(), per_seq.max()))
    assert row["seq_min"] < row["value"] < row["seq_max"] and row["n_sequences"] == 3
    assert per_seq.notna().all() and table[table["sequence"] != "*"]["seq_min"].isna().all()
    assert str(bd.MIN_CI_SEQUENCES) in bd.RANGE_NOTE and "range" in bd.RANGE_NOTE

    table = _varied(bd.MIN_CI_SEQUENCES)
    row = table[(table["codec"] == "vvc") & (table["sequence"] == "*")].iloc[0]
    assert row["seq_min"] < row["ci_low"] < row["value"] < row["ci_high"] < row["seq_max"]
    values = table[(table["codec"] == "vvc") & (table["sequence"] != "*")]["value"]
    assert (row["ci_low"], row["ci_high"]) == bd.bootstrap_ci(values.to_numpy())


def test_table_flags_missing_sequences_and_non_monotonic_curves() -> None:
    res = synthetic_results()
    res = res[~((res["codec"] == "vvc") & (res["sequence"] == "seq_c"))]
    bump = (res["codec"] == "divinr[tiny]") & (res["sequence"] == "seq_a") & (res["rate_point"] == "35")
    res.loc[bump, "psnr_y"] += 10  # a quality spike: not monotonic
    res.loc[(res["codec"] == "vvc") & (res["sequence"] == "seq_a"), "status"] = "failed"
    table = bd.bd_table(bd.curves_from_results(res, "psnr_y"), "hevc", "psnr_y")
    vvc = table[table["codec"] == "vvc"].set_index("sequence")
    no_points = "vvc has no points (no successful job with a value)"
    assert np.isnan(vvc.loc["seq_c", "value"]) and vvc.loc["seq_c", "warning"] == no_points
    assert np.isnan(vvc.loc["seq_a", "value"])  # failed rows are not used
    assert np.isnan(vvc.loc["*", "value"])
    assert vvc.loc["*", "warning"] == f"no dataset mean: no value for seq_a, seq_c: {no_points}"
    div = table[table["codec"] == "divinr[tiny]"].set_index("sequence")
    assert not div.loc["seq_a", "monotonic"] and "not monotonic" in div.loc["seq_a", "warning"]
    assert np.isfinite(div.loc["seq_a", "value"])  # flagged, not dropped or fixed
    assert not div.loc["*", "monotonic"]


def test_reasons_for_missing_values_are_short_and_consistent() -> None:
    """A codec whose curves never meet the anchor's gets one reason, the same in every row."""
    res = synthetic_results({"hevc": 1.0, "far": 100.0, "vvc": 0.75})
    far = res["codec"] == "far"
    res.loc[far, "psnr_y"] -= 30  # far below the anchor's qualities: no quality overlap either
    curves = bd.curves_from_results(res, "psnr_y")
    for mode, axis in (("rate", "quality"), ("quality", "rate")):
        table = bd.bd_table(curves, "hevc", "psnr_y", mode=mode)
        rows = table[table["codec"] == "far"].set_index("sequence")
        reason = f"curves do not overlap in {axis} with the anchor"
        assert rows["value"].isna().all()
        assert rows.loc["*", "warning"] == f"no value on any sequence: {reason}"
        for seq in SEQUENCES:
            assert rows.loc[seq, "warning"].startswith(f"{reason} ({axis}: anchor ")
        ranked = bd.ranking(table).set_index("codec")
        assert (
            np.isnan(ranked.loc["far", "rank"]) and ranked.loc["far", "warning"] == rows.loc["*", "warning"]
        )
        assert ranked.loc["vvc", "rank"] == 1 and ranked.loc["vvc", "warning"] == ""
    # One sequence out of range: the mean is missing, and the row says which sequence and why.
    res = synthetic_results()
    res.loc[(res["codec"] == "vvc") & (res["sequence"] == "seq_b"), "bpp"] *= 100
    table = bd.bd_table(bd.curves_from_results(res, "psnr_y"), "hevc", "psnr_y", mode="quality")
    vvc = table[table["codec"] == "vvc"].set_index("sequence")
    assert vvc["value"].notna().sum() == 2
    assert (
        vvc.loc["*", "warning"]
        == "no dataset mean: no value for seq_b: curves do not overlap in rate with the anchor"
    )
    # Too few points, on the test curve and on the anchor's.
    few = synthetic_results()
    few = few[~((few["codec"] == "vvc") & (few["rate_point"] == "25"))]
    table = bd.bd_table(bd.curves_from_results(few, "psnr_y"), "hevc", "psnr_y")
    assert table.set_index(["codec", "sequence"]).loc[("vvc", "*"), "warning"] == (
        "no value on any sequence: vvc has 3 rate point(s), BD needs 4"
    )
    few = synthetic_results()
    few = few[~((few["codec"] == "hevc") & (few["rate_point"] == "25") & (few["sequence"] == "seq_a"))]
    table = bd.bd_table(bd.curves_from_results(few, "psnr_y"), "hevc", "psnr_y")
    assert table.set_index(["codec", "sequence"]).loc[("vvc", "*"), "warning"] == (
        "no dataset mean: no value for seq_a: anchor hevc has 3 rate point(s), BD needs 4"
    )


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
