"""Bad input gets a clear message and a non-zero exit, never a traceback."""

from __future__ import annotations

import pytest

from codecbench.cli import main
from tests.conftest import cli


def check(proc, code: int, *needles: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in proc.stderr, proc.stderr


class InProcess:
    """What a subprocess gives (exit code, stderr, stdout), from calling ``main`` directly: faster."""

    def __init__(self, capsys: pytest.CaptureFixture, *args) -> None:
        self.returncode = main([str(a) for a in args])
        captured = capsys.readouterr()
        self.stderr, self.stdout = captured.err, captured.out


def test_unknown_codec_lists_known(toy_plugin, tmp_path):
    check(cli("run", "--codecs", "nope", "--out", tmp_path), 2, "unknown codec 'nope'", "toy", "hevc")


def test_unknown_dataset_lists_known(toy_plugin, tmp_path, capsys):
    check(
        InProcess(capsys, "run", "--codecs", "toy", "--dataset", "nope", "--out", tmp_path),
        2,
        "unknown dataset",
        "sample",
    )


def test_unknown_metric_lists_known(toy_plugin, tmp_path, capsys):
    proc = InProcess(capsys, "run", "--codecs", "toy", "--metrics", "psnr_z", "--out", tmp_path)
    check(proc, 2, "unknown metric 'psnr_z'", "psnr_y")


def test_unknown_codec_option_lists_known(toy_plugin, tmp_path, capsys):
    proc = InProcess(capsys, "run", "--codecs", "toy", "--codec-opt", "toy.levle=3", "--out", tmp_path)
    check(proc, 2, "unknown option(s) levle", "level")
    check(
        InProcess(capsys, "run", "--codecs", "toy", "--codec-opt", "toy.level", "--out", tmp_path),
        2,
        "NAME.KEY=VALUE",
    )
    check(
        InProcess(capsys, "run", "--codecs", "toy", "--codec-opt", "toy.level=x", "--out", tmp_path),
        2,
        "as int",
    )


def test_truncated_yuv(toy_plugin, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "Cut_16x8_25.yuv").write_bytes(b"\0" * (192 * 3 + 100))
    proc = cli("run", "--codecs", "toy", "--dataset", data, "--out", tmp_path / "o")
    check(proc, 2, "not a whole number", "multiple of 192 bytes per frame")


def test_unwritable_output_folder(toy_plugin, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = InProcess(capsys, "run", "--codecs", "toy", "--metrics", "psnr_y", "--out", blocker / "sub")
    check(proc, 2, "is not writable")


def test_missing_ffmpeg(toy_plugin, tmp_path):
    proc = cli(
        "run", "--codecs", "toy", "--out", tmp_path / "o",
        env={"CODECBENCH_FFMPEG": str(tmp_path / "no-ffmpeg"), "CODECBENCH_CACHE": str(tmp_path / "c")},
    )  # fmt: skip
    check(proc, 2, "no-ffmpeg", "not an executable")


def test_unusable_ffmpeg(toy_plugin, tmp_path):
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    fake.chmod(0o755)
    proc = cli(
        "run", "--codecs", "toy", "--out", tmp_path / "o",
        env={"CODECBENCH_FFMPEG": str(fake), "CODECBENCH_CACHE": str(tmp_path / "c")},
    )  # fmt: skip
    check(proc, 2, "broken")


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--frames", "0"], "--frames must be at least 1"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--codec-opt", "vvc.preset=slow"], "not in --codecs"),
        (["--executor", "slurm"], "unknown executor 'slurm'"),
        (["--executor-opt", "speed=3"], "executor local: got an unexpected keyword argument 'speed'"),
        (["--executor-opt", "speed"], "must look like KEY=VALUE"),
    ],
)
def test_bad_numbers_and_owners(toy_plugin, tmp_path, args, needle, capsys):
    check(InProcess(capsys, "run", "--codecs", "toy", "--out", tmp_path, *args), 2, needle)


def test_no_codecs(tmp_path, capsys):
    check(InProcess(capsys, "run", "--out", tmp_path), 2, "no codecs given")


def test_bad_config_file(toy_plugin, tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("codecs: [toy]\nspeed: fast\n")
    check(InProcess(capsys, "run", "--config", cfg, "--out", tmp_path / "o"), 2, "unknown key(s) speed")
    cfg.write_text("codecs: [toy\n")
    check(InProcess(capsys, "run", "--config", cfg, "--out", tmp_path / "o"), 2, "not valid")


def test_config_file_drives_a_run(toy_plugin, tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'codecs = ["toy"]\ndataset = "sample"\nframes = 2\nsequences = "Clouds"\nmetrics = ["psnr_y"]\nreport = false\n'
        '[codec_options.toy]\nrate_points = "16,8"\n'
    )
    proc = InProcess(capsys, "run", "--config", cfg, "--out", tmp_path / "o", "--quiet")
    check(proc, 0, "2 jobs")


def test_verify_on_a_non_run_folder(tmp_path, capsys):
    check(InProcess(capsys, "verify", tmp_path), 2, "has no results.csv")


def test_list_commands(toy_plugin, capsys):
    proc = InProcess(capsys, "list", "codecs")
    assert proc.returncode == 0 and "toy" in proc.stdout and "available" in proc.stdout
    proc = InProcess(capsys, "list", "datasets")
    assert proc.returncode == 0 and "sample" in proc.stdout and "uvg" in proc.stdout
    proc = InProcess(capsys, "list", "metrics")
    assert proc.returncode == 0 and "psnr_y" in proc.stdout
