"""A run killed with SIGKILL resumes losing nothing; two runs into one folder do not corrupt it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from codecbench.cli import main

SLOW = ["run", "--codecs", "toy", "--frames", "2", "--metrics", "psnr_y", "--no-report", "--quiet",
        "--codec-opt", "toy.sleep=0.15"]  # fmt: skip


def start(out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "codecbench.cli", *SLOW, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def committed(out: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in (out / "jobs").glob("*.json")} if (out / "jobs").exists() else {}


def test_kill_9_and_resume(toy_plugin, tmp_path):
    out = tmp_path / "run"
    proc = start(out)
    deadline = time.monotonic() + 120
    while len(committed(out)) < 3:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = committed(out)
    assert 3 <= len(before) < 12
    assert all(json.loads(t)["status"] == "ok" for t in before.values())

    assert main([*SLOW, "--out", str(out)]) == 0
    after = committed(out)
    assert len(after) == 12
    assert all(after[name] == text for name, text in before.items()), "finished jobs were redone"
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 12 and df["job_id"].is_unique and set(df["status"]) == {"ok"}
    assert main(["verify", str(out), "--quiet"]) == 0


def test_two_runs_into_one_folder(toy_plugin, tmp_path):
    out = tmp_path / "run"
    a, b = start(out), start(out)
    assert a.wait(timeout=300) in (0, 1) and b.wait(timeout=300) in (0, 1)
    # whatever one run skipped because the other held it, a third run completes it
    both = committed(out)
    assert main([*SLOW, "--out", str(out)]) == 0
    assert all(committed(out)[name] == text for name, text in both.items())
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 12 and df["job_id"].is_unique and set(df["status"]) == {"ok"}
    assert main(["verify", str(out), "--quiet"]) == 0
