"""The thread budget: workers, torch and the encoders hold to ``--threads``, and the run records it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from codecbench import threads
from codecbench.progress import EtaModel, Progress, clock
from tests.conftest import cli, register_plugin

PROBE = Path(__file__).parent / "fixtures" / "threadprobe"


@pytest.fixture
def probe_plugin(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Register the thread-probe codec through its entry point, here and in subprocesses."""
    return register_plugin(monkeypatch, PROBE)


def _records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "jobs").glob("*.json"))]


def test_default_budget_shares_the_cores() -> None:
    assert threads.default_threads(1, cores=16) == 16
    assert threads.default_threads(2, cores=16) == 8
    assert threads.default_threads(3, cores=2) == 1
    assert threads.budget_environ(3)["OMP_NUM_THREADS"] == "3"


@pytest.mark.parametrize("workers,budget", [(2, 1), (1, 2)])
def test_workers_torch_and_encoders_hold_to_the_budget(probe_plugin, tmp_path, workers, budget) -> None:
    """Spawned workers (and the in-process path) give torch, x265, ffmpeg and libvmaf the budget."""
    out = tmp_path / "run"
    proc = cli(
        "run", "--codecs", "threadprobe,hevc,vvc", "--dataset", "sample", "--sequences", "Clouds",
        "--frames", "2", "--metrics", "psnr_y,vmaf", "--codec-opt", "hevc.rate_points=45",
        "--codec-opt", "vvc.rate_points=45", "--workers", str(workers), "--threads", str(budget),
        "--no-report", "--quiet", "--out", out,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    records = {r["codec"]: r for r in _records(out)}
    assert set(records) == {"threadprobe", "hevc", "vvc"}
    for r in records.values():
        assert r["threads"]["threads"] == budget, r["threads"]
    probe = records["threadprobe"]
    assert probe["encode_details"]["torch_threads"] == budget
    assert probe["encode_details"]["omp_num_threads"] == str(budget)
    assert probe["threads"]["torch_threads"] == budget
    if workers > 1:
        assert probe["encode_details"]["pid"] != os.getpid()
    hevc = records["hevc"]["encode_details"]["command"]
    assert f"pools={budget}" in hevc and f"-threads {budget}" in hevc
    assert f"-threads {budget}" in records["vvc"]["encode_details"]["command"]
    run = json.loads((out / "run.json").read_text())["runs"][-1]
    assert run["threads"]["per_job"] == budget and run["threads"]["workers"] == workers
    assert run["outcome"] == "ok" and run["finished_at"] >= run["started_at"]
    assert run["jobs"]["ok"] == 3 and run["jobs"]["failed"] == 0


def test_bitstreams_do_not_depend_on_the_budget(tmp_path) -> None:
    """x265 pools, VVenC threads and libaom tile threads change speed only, never the bytes."""
    shas = []
    for budget in (1, 2):
        out = tmp_path / f"t{budget}"
        proc = cli(
            "run", "--codecs", "hevc,vvc,av1", "--dataset", "sample", "--sequences", "Clouds", "--frames", "4",
            "--metrics", "psnr_y", "--codec-opt", "hevc.rate_points=37", "--codec-opt", "vvc.rate_points=37",
            "--codec-opt", "av1.rate_points=40", "--threads", str(budget), "--no-report", "--quiet",
            "--out", out,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        shas.append({r["codec"]: r["bitstream_sha256"] for r in _records(out)})
    assert shas[0] == shas[1] and len(shas[0]) == 3


def test_single_threaded_codecs_get_one_thread(probe_plugin, monkeypatch) -> None:
    from thread_probe import ThreadProbe

    from codecbench.datasets import resolve
    from codecbench.run.plan import plan

    monkeypatch.setattr(ThreadProbe, "single_threaded", True)
    jobs = plan(["threadprobe", "hevc"], resolve("sample", frames=1, sequences=["Clouds"]), threads=2).jobs
    assert {j.codec: j.threads for j in jobs} == {"threadprobe": 1, "hevc": 2}


def test_eta_weights_each_codec_by_its_own_cost() -> None:
    eta = EtaModel(["slow"] * 3 + ["fast"] * 3)
    assert eta.estimate(0.0) is None and "estimating" in eta.describe(0.0)
    eta.observe("slow", 100.0)
    eta.observe("fast", 1.0)
    # 2 slow jobs at 100 s and 2 fast ones at 1 s, one at a time: 202 s.
    assert eta.estimate(101.0) == pytest.approx(202.0)
    # The same work done twice as fast by two workers: half the time left.
    assert eta.estimate(50.5) == pytest.approx(101.0)
    assert clock(202) == "3:22" and clock(3725) == "1:02:05"


def test_progress_writes_plain_lines_to_a_log(tmp_path) -> None:
    log = tmp_path / "log.txt"
    with open(log, "w") as f, Progress(10, "divinr Clouds @ m", "steps", interval=3600, file=f) as bar:
        for _ in range(10):
            bar.update(1, postfix="loss 0.5")
    lines = log.read_text().splitlines()
    assert lines == [
        "divinr Clouds @ m: 0/10 steps, 0:00 elapsed",
        "divinr Clouds @ m: 10/10 steps, 0:00 elapsed, loss 0.5",
    ]
    assert "\r" not in log.read_text()
