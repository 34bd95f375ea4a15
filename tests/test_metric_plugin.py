"""A third-party metric declares its direction, range, unit, name and order on its class, and BD,
the report and the leaderboard use them with nothing else to edit (the toy metric plugin)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codecbench.cli import main
from codecbench.leaderboard import SubmissionError, make_submission, validate
from codecbench.metrics.info import metric_info, ordered
from codecbench.report import load_run
from codecbench.report.html import render
from tests.test_bd import synthetic_results
from tests.test_leaderboard import add_provenance


def toy_run(root: Path) -> Path:
    """hevc and vvc (0.75x the rate for the same quality), with a lower-is-better toy_mad column."""
    df = synthetic_results({"hevc": 1.0, "vvc": 0.75})
    df["toy_mad"] = 100 * df["lpips_alex"]
    root.mkdir(parents=True)
    df.to_csv(root / "results.csv", index=False)
    return root


def test_descriptor_comes_from_the_plugin(toy_metric: Path) -> None:
    info = metric_info("toy_mad")
    assert (info.display, info.unit, info.higher_is_better) == ("Toy MAD", "levels", False)
    assert info.value_range == (0.0, 255.0) and info.title == "Toy MAD (levels)"
    assert ordered(["zz", "psnr_yuv", "toy_mad", "psnr_y"]) == ["psnr_y", "toy_mad", "psnr_yuv", "zz"]


def test_bd_reads_direction_and_unit(toy_metric: Path, tmp_path: Path, capsys) -> None:
    run = toy_run(tmp_path / "run")
    assert main(["bd", str(run), "--metric", "toy_mad", "--mode", "quality", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    vvc = next(r for r in rows if r["codec"] == "vvc" and r["sequence"] == "*")
    assert vvc["value"] > 0  # lower is better: BD-quality is the reduction, positive = better
    assert main(["bd", str(run), "--metric", "toy_mad", "--mode", "quality"]) == 0
    assert " levels" in capsys.readouterr().out


def test_bd_without_the_plugin_asks_for_a_direction(tmp_path: Path, capsys) -> None:
    metric_info.cache_clear()
    assert main(["bd", str(toy_run(tmp_path / "run")), "--metric", "toy_mad"]) == 2
    assert "--direction" in capsys.readouterr().err
    metric_info.cache_clear()


def test_report_shows_name_unit_and_order(toy_metric: Path, tmp_path: Path) -> None:
    page, _ = render(load_run(toy_run(tmp_path / "run")))
    assert "<h3>Toy MAD (levels)</h3>" in page and "BD-Toy MAD" in page
    assert page.index("<h3>PSNR-Y (dB)</h3>") < page.index("<h3>Toy MAD (levels)</h3>")


def test_leaderboard_checks_range_and_ranks_by_direction(toy_metric: Path, tmp_path: Path) -> None:
    run = add_provenance(toy_run(tmp_path / "run"))
    sub = make_submission(load_run(run), codec="vvc")
    assert "toy_mad" in sub["metrics"]
    validate(json.loads(json.dumps(sub)))
    bad = json.loads(json.dumps(sub))
    bad["rows"][0]["metrics"]["toy_mad"] = 300.0
    with pytest.raises(SubmissionError, match=r"outside the valid range \[0.0, 255.0\]"):
        validate(bad)
    out, results = tmp_path / "vvc.json", tmp_path / "results"
    out.write_text(json.dumps(sub))
    assert main(["leaderboard", "--results-dir", str(results), "submit", str(out)]) == 0
    assert main(["leaderboard", "--results-dir", str(results), "build"]) == 0
    board = json.loads((results / "leaderboard" / "leaderboard.json").read_text())
    toy = board["datasets"]["sample"]["default"]["toy_mad"]
    assert toy["quality"][0]["codec"] == "vvc" and toy["quality"][0]["value"] > 0
    assert toy["rate"][0]["value"] == pytest.approx(-25.0, abs=1e-6)
