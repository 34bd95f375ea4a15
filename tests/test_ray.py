"""The Ray executor on a small local Ray cluster: same results as the local executor, lost workers, resources.

One cluster (2 CPUs) is started per module. The lost-worker tests use a toy codec variant, written
here as a pip-style plugin, whose worker SIGKILLs itself the first time it decodes chosen jobs
(a marker file per job says it already died once), after the bitstream was moved into the run folder.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from codecbench.cli import main
from codecbench.datasets import resolve
from codecbench.errors import CodecbenchError
from codecbench.run import run_benchmark
from codecbench.run.executors import get_executor
from codecbench.run.plan import plan
from codecbench.video import Frame, VideoFormat
from codecbench.yuv import write_yuv
from tests.conftest import TOY_PLUGIN, cli

ray = pytest.importorskip("ray")

from codecbench.run.executors.ray_cluster import (  # noqa: E402
    RayExecutor,
    declared_resources,
    run_shared,
    task_resources,
)

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

KILLER = '''
"""Toy codec variants for the Ray tests: one whose worker dies once per chosen job, one that wants a GPU."""
import os
import signal
from pathlib import Path

from codecbench import Option
from toy_codec import ToyCodec


class DieOnceToy(ToyCodec):
    name = "toy_die_once"
    options_spec = {
        **ToyCodec.options_spec,
        "markers": Option("", "folder of 'already died once' markers"),
        "die_at": Option("16", "comma-separated rate points whose first decode kills the worker"),
    }

    def decode(self, bitstream, workdir):
        step = bitstream.read_bytes()[13:15]
        rate_point = str(int.from_bytes(step, "little"))
        if rate_point in self.options["die_at"].split(","):
            marker = Path(self.options["markers"]) / bitstream.name
            if not marker.exists():
                marker.write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
        return super().decode(bitstream, workdir)


class GpuToy(ToyCodec):
    name = "toy_gpu"
    resources = {"cpu": 1.0, "gpu": 1.0}
'''


def write_plugin(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "toy_ray_codecs.py").write_text(textwrap.dedent(KILLER))
    info = folder / "toy_ray_codecs-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-ray-codecs\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[codecbench.codecs]\ntoy_die_once = toy_ray_codecs:DieOnceToy\ntoy_gpu = toy_ray_codecs:GpuToy\n"
    )
    return folder


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, isolated_cache: Path):
    """A 2-CPU local Ray cluster whose workers find the toy plugins (through PYTHONPATH)."""
    plugins = write_plugin(tmp_path_factory.mktemp("plugins"))
    with pytest.MonkeyPatch.context() as mp:
        paths = [str(TOY_PLUGIN), str(plugins)]
        for p in paths:
            mp.syspath_prepend(p)
        old = os.environ.get("PYTHONPATH")
        mp.setenv("PYTHONPATH", os.pathsep.join(paths + ([old] if old else [])))
        ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20, log_to_driver=False)
        try:
            yield ray.get_runtime_context().gcs_address
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def local_run(cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: the same jobs with the local executor."""
    out = tmp_path_factory.mktemp("local") / "run"
    assert main([*RUN, "--out", str(out)]) == 0
    return out


def results(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "results.csv", dtype={"rate_point": str}).drop(columns=TIMING)


def records(out: Path) -> dict[str, dict]:
    found = {}
    for p in (out / "jobs").glob("*.json"):
        rec = json.loads(p.read_text())
        # Timings, and the thread budget (1 per task on an existing cluster), may differ.
        found[p.name] = {k: v for k, v in rec.items() if k not in [*TIMING, "job_seconds", "threads"]}
    return found


def assert_same_run(a: Path, b: Path) -> None:
    """Same results table, frames table, records and bitstream bytes, apart from timings."""
    pd.testing.assert_frame_equal(results(a), results(b))
    pd.testing.assert_frame_equal(pd.read_csv(a / "frames.csv"), pd.read_csv(b / "frames.csv"))
    assert records(a) == records(b)
    for row in results(a).itertuples():
        assert (a / row.bitstream_path).read_bytes() == (b / row.bitstream_path).read_bytes()
        assert (b / row.snapshot_path).is_file()
    assert not list((b / "jobs").glob(".*.tmp")), "no half-written records"
    assert not any((b / "work").iterdir()), "finished jobs leave no work files"


def test_ray_cli_run_matches_local(local_run, tmp_path, capsys):
    out = tmp_path / "ray"
    assert main([*RUN, "--out", str(out), "--executor", "ray"]) == 0
    assert len(results(out)) == 12 and set(results(out)["status"]) == {"ok"}
    assert_same_run(local_run, out)
    # resume: a second run finds every job done and rewrites nothing
    before = {p.name: p.read_text() for p in (out / "jobs").glob("*.json")}
    assert main([*RUN, "--out", str(out), "--executor", "ray"]) == 0
    assert "12 already finished" in capsys.readouterr().err
    assert before == {p.name: p.read_text() for p in (out / "jobs").glob("*.json")}
    assert main(["verify", str(out), "--quiet"]) == 0


def test_stream_mode_matches_local(local_run, tmp_path):
    selection = resolve("sample", frames=3)
    the_plan = plan(["toy"], selection, metrics=["psnr_y"])
    out = tmp_path / "stream"
    summary = run_benchmark(the_plan, out, RayExecutor(mode="stream"), progress=False)
    assert len(summary.records) == 12 and not summary.failed
    assert_same_run(local_run, out)
    assert main(["verify", str(out), "--quiet"]) == 0


def test_existing_cluster_by_address_from_another_process(cluster, local_run, tmp_path):
    out = tmp_path / "addr"
    args = [*RUN, "--sequences", "Clouds", "--codec-opt", "toy.rate_points=32,8", "--out", out]
    proc = cli(*args, "--executor", "ray", "--address", cluster, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Started a local Ray instance" not in proc.stderr
    ray_rows = results(out).set_index("job_id")
    local_rows = results(local_run).set_index("job_id").loc[ray_rows.index]
    pd.testing.assert_frame_equal(local_rows, ray_rows)


def test_relative_dataset_folder_names_the_same_files_on_workers(cluster, tmp_path, monkeypatch):
    """Ray workers started elsewhere resolve ``--dataset clips`` from the driver's working folder."""
    fmt = VideoFormat(64, 48)
    rng = np.random.default_rng(0)
    shapes = fmt.plane_shapes
    frames = [Frame(*(rng.integers(0, 256, s, dtype=np.uint8) for s in shapes)) for _ in range(2)]
    (tmp_path / "clips").mkdir()
    write_yuv(tmp_path / "clips" / "Noise_64x48_30.yuv", fmt, frames)
    monkeypatch.chdir(tmp_path)
    args = [*RUN, "--dataset", "clips", "--codec-opt", "toy.rate_points=8,2"]
    assert main([*args, "--out", "local"]) == 0
    assert main([*args, "--out", "ray", "--executor", "ray"]) == 0
    sources = {r["source_path"] for r in records(tmp_path / "ray").values()}
    assert sources == {"clips/Noise_64x48_30.yuv"} and len(results(tmp_path / "ray")) == 2
    assert_same_run(tmp_path / "local", tmp_path / "ray")


def killer_args(markers: Path) -> list[str]:
    return ["--codecs", "toy_die_once", "--codec-opt", f"toy_die_once.markers={markers}"]


def test_lost_worker_is_retried_and_nothing_is_lost_or_doubled(cluster, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    out = tmp_path / "ray"
    assert main([*RUN, *killer_args(markers), "--out", str(out), "--executor", "ray"]) == 0
    died = sorted(markers.iterdir())
    assert len(died) == 3, "each sequence's rate point 16 killed its worker once"
    assert all(int(m.read_text()) != os.getpid() for m in died)
    df = results(out)
    assert len(df) == 12 and df["job_id"].is_unique and set(df["status"]) == {"ok"}
    assert len(list((out / "jobs").glob("*.json"))) == 12
    # the same jobs run locally (markers present: nobody dies) give the same results
    local = tmp_path / "local"
    assert main([*RUN, *killer_args(markers), "--out", str(local)]) == 0
    assert_same_run(local, out)
    assert main(["verify", str(out), "--quiet"]) == 0


def test_worker_lost_beyond_retries_is_a_failed_job_and_resumes(cluster, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    out = tmp_path / "ray"
    selection = resolve("sample", frames=3, sequences=["Clouds"])
    opts = {"toy_die_once": {"markers": str(markers), "die_at": "16"}}
    the_plan = plan(["toy_die_once"], selection, opts, ["psnr_y"])
    summary = run_benchmark(the_plan, out, RayExecutor(max_retries=0), progress=False)
    assert len(summary.records) == 4 and len(summary.failed) == 1
    failed = summary.failed[0]
    assert failed["rate_point"] == "16" and "worker lost" in failed["error"]
    assert json.loads((out / "jobs" / f"{failed['job_id']}.json").read_text())["status"] == "failed"
    # resuming runs only the failed job; its marker is there, so it completes
    summary = run_benchmark(the_plan, out, RayExecutor(max_retries=0), progress=False)
    assert summary.skipped == 3 and len(summary.records) == 4 and not summary.failed
    assert set(results(out)["status"]) == {"ok"} and len(results(out)) == 4


def test_gpu_job_on_a_cluster_without_gpus_runs_on_cpu_with_a_warning(cluster, tmp_path):
    selection = resolve("sample", frames=2, sequences=["Clouds"])
    the_plan = plan(["toy_gpu"], selection, {"toy_gpu": {"rate_points": "8"}}, ["psnr_y"])
    with pytest.warns(RuntimeWarning, match="asks for 1 GPU but the largest node has 0"):
        summary = run_benchmark(the_plan, tmp_path / "gpu", RayExecutor(), progress=False)
    assert [r["status"] for r in summary.records] == ["ok"]
    with pytest.raises(CodecbenchError, match="asks for 1 GPU"):
        run_benchmark(the_plan, tmp_path / "strict", RayExecutor(require_gpus=True), progress=False)


def test_task_resources_map_and_fit_the_declared_resources(cluster):
    job = plan(["toy_gpu"], resolve("sample", frames=1, sequences=["Clouds"])).jobs[0]
    assert declared_resources(job) == {"cpu": 1.0, "gpu": 1.0}
    gpu_nodes = [{"CPU": 8.0, "GPU": 2.0}, {"CPU": 4.0}]
    opts, notes = task_resources({"cpu": 1, "gpu": 1}, gpu_nodes)
    assert opts == {"num_cpus": 1, "num_gpus": 1} and notes == []
    opts, notes = task_resources({"cpu": 16, "gpu": 4, "licence": 1}, gpu_nodes)
    assert opts == {"num_cpus": 8.0, "num_gpus": 2.0} and len(notes) == 3
    opts, notes = task_resources({"cpu": 16, "gpu": 4, "licence": 1}, gpu_nodes, fit=False)
    assert opts == {"num_cpus": 16, "num_gpus": 4, "resources": {"licence": 1}} and notes == []


def test_shared_mode_refuses_a_run_folder_the_worker_does_not_see(toy_plugin, tmp_path):
    job = plan(["toy"], resolve("sample", frames=1, sequences=["Clouds"])).jobs[0]
    with pytest.raises(CodecbenchError, match="does not see the run folder"):
        run_shared(job, str(tmp_path / "elsewhere"), "ray-shared-marker")
    assert not (tmp_path / "elsewhere").exists(), "nothing written where the driver does not look"


def test_missing_ray_says_how_to_install(toy_plugin, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(CodecbenchError, match=r"pip install 'codecbench\[ray\]'"):
        get_executor("ray", workers=2)
    assert main([*RUN, "--out", str(tmp_path / "x"), "--executor", "ray"]) == 2
    assert "pip install 'codecbench[ray]'" in capsys.readouterr().err


def test_unknown_mode_is_a_user_error(cluster):
    with pytest.raises(CodecbenchError, match="mode must be one of shared, stream"):
        RayExecutor(mode="nfs")
