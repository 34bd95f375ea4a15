"""End-to-end runs with a third-party codec plugin: results, resume, failures, workers, verify."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from codecbench import registry
from codecbench.cli import main
from codecbench.datasets import resolve
from codecbench.run.schema import RESULT_COLUMNS
from codecbench.video import read_yuv

RUN = [
    "run",
    "--codecs",
    "toy",
    "--dataset",
    "sample",
    "--frames",
    "3",
    "--metrics",
    "psnr_y",
    "--no-report",
    "--quiet",
]
TIMING = ["encode_seconds", "decode_seconds", "finished_at"]


def run(out: Path, *extra: str) -> int:
    return main([*RUN, "--out", str(out), *extra])


def test_plugin_is_found_through_its_entry_point(toy_plugin):
    assert "toy" in registry.codec_names()
    codec = registry.create_codec("toy", {"level": "9"})
    assert codec.options["level"] == 9 and codec.label == "toy"


def test_end_to_end(toy_plugin, tmp_path):
    out = tmp_path / "run"
    assert run(out) == 0
    df = pd.read_csv(out / "results.csv", dtype={"rate_point": str})
    assert list(df.columns[: len(RESULT_COLUMNS)]) == RESULT_COLUMNS and "psnr_y" in df
    assert len(df) == 3 * 4 and set(df["status"]) == {"ok"}
    for _, row in df.iterrows():
        stream = out / row["bitstream_path"]
        assert stream.stat().st_size == row["bytes"]
        assert row["bpp"] == pytest.approx(row["bytes"] * 8 / (384 * 256 * 3))
        assert (out / row["snapshot_path"]).is_file()
    # coarser quantiser steps give fewer bytes and lower PSNR, sequence by sequence
    for _, seq in df.groupby("sequence"):
        seq = seq.assign(step=seq["rate_point"].astype(int)).sort_values("step")
        assert seq["bytes"].is_monotonic_decreasing and seq["psnr_y"].is_monotonic_decreasing
    frames = pd.read_csv(out / "frames.csv")
    assert len(frames) == 12 * 3 and set(frames["metric"]) == {"psnr_y"}
    means = frames.groupby(["sequence", "rate_point"])["value"].mean()
    for _, row in df.iterrows():
        assert means[(row["sequence"], int(row["rate_point"]))] == pytest.approx(row["psnr_y"])
    assert not any((out / "work").iterdir()), "finished jobs leave no work files"


def test_psnr_matches_an_independent_decode(toy_plugin, tmp_path):
    """Decode a stored bitstream by hand (zlib, dequantise) and recompute PSNR-Y with numpy."""
    out = tmp_path / "run"
    assert run(out, "--sequences", "Mandelbrot", "--codec-opt", "toy.rate_points=16") == 0
    row = pd.read_csv(out / "results.csv").iloc[0]
    data = (out / row["bitstream_path"]).read_bytes()  # 13-byte header, 2-byte step, zlib payload
    samples = np.frombuffer(zlib.decompress(data[15:]), "<u2").astype(np.int64)
    clip = resolve("sample", frames=3, sequences=["Mandelbrot"]).clips[0]
    n, luma = clip.format.samples_per_frame, 384 * 256
    psnrs = []
    for i, ref in enumerate(read_yuv(clip.path, clip.format, count=3)):
        y = np.clip(samples[i * n : i * n + luma] * 16 + 8, 0, 255).reshape(256, 384)
        mse = np.mean((ref.y.astype(np.float64) - y) ** 2)
        psnrs.append(10 * np.log10(255**2 / mse))
    assert row["psnr_y"] == pytest.approx(np.mean(psnrs), abs=1e-9)


def test_rerun_skips_finished_jobs(toy_plugin, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(out) == 0
    before = {p.name: p.read_text() for p in (out / "jobs").glob("*.json")}
    assert run(out) == 0
    assert "12 already finished" in capsys.readouterr().err
    assert before == {p.name: p.read_text() for p in (out / "jobs").glob("*.json")}


def test_failed_job_is_recorded_and_run_goes_on(toy_plugin, tmp_path):
    out = tmp_path / "run"
    code = main([*RUN, "--out", str(out), "--codecs", "toy", "--codec-opt", "toy.fail=true"])
    assert code == 1
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 12 and set(df["status"]) == {"failed"}
    assert df["error"].str.contains("crashed on purpose").all()


def test_unsupported_resolution_is_a_failed_job_with_reason(toy_plugin, tmp_path):
    out = tmp_path / "run"
    assert run(out, "--codec-opt", "toy.multiple=100", "--sequences", "Clouds") == 1
    df = pd.read_csv(out / "results.csv")
    assert df["error"].str.contains("multiples of 100").all()


def test_workers_give_the_same_results(toy_plugin, tmp_path):
    assert run(tmp_path / "one") == 0
    assert run(tmp_path / "two", "--workers", "2") == 0
    a, b = (pd.read_csv(tmp_path / d / "results.csv").drop(columns=TIMING) for d in ("one", "two"))
    pd.testing.assert_frame_equal(a, b)


def test_verify_detects_tampering(toy_plugin, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(out, "--sequences", "Clouds") == 0
    assert main(["verify", str(out), "--quiet"]) == 0
    assert "verified 4 bitstream(s): 0 mismatch" in capsys.readouterr().out
    df = pd.read_csv(out / "results.csv")
    victim = out / df["bitstream_path"][0]
    data = bytearray(victim.read_bytes())
    data[-3] ^= 0xFF
    victim.write_bytes(bytes(data))
    (out / df["bitstream_path"][1]).unlink()
    assert main(["verify", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"{df['job_id'][0]}: bitstream SHA-256 differs" in err
    assert f"{df['job_id'][1]}: bitstream" in err and "is missing" in err


def test_verify_detects_a_changed_decoder_output(toy_plugin, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(out, "--sequences", "Clouds", "--codec-opt", "toy.rate_points=8") == 0
    csv = out / "results.csv"
    df = pd.read_csv(csv)
    df.loc[0, "decoded_sha256"] = "0" * 64
    df.to_csv(csv, index=False)
    assert main(["verify", str(out), "--quiet"]) == 1
    assert "decoded SHA-256" in capsys.readouterr().err


def test_run_json_records_provenance(toy_plugin, tmp_path):
    out = tmp_path / "run"
    assert run(out, "--sequences", "Clouds") == 0
    log = json.loads((out / "run.json").read_text())["runs"][-1]
    assert log["dataset"] == "sample" and log["frames"] == {"Clouds": 3}
    records = [json.loads(p.read_text()) for p in (out / "jobs").glob("*.json")]
    assert sorted(r["encode_details"]["step"] for r in records) == [8, 16, 32, 64]
    assert log["codecs"]["toy"]["rate_points"] == ["64", "32", "16", "8"]
    assert "python" in log["environment"]
