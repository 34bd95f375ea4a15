"""``codecbench list``: short tables that fit 100 columns, stand-ins, details, errors, the probe cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codecbench.cli import main
from codecbench.cli.list import MAX_WIDTH

FAKE_MODULE = """
import os
from pathlib import Path

from codecbench import Codec
from codecbench.requirements import Availability, Requirement


class Fallback(Codec):
    name = "fallback"
    description = "runs a smaller model, labelled fallback[mini], when the big model's weights are missing"
    rate_parameter = "size"

    def default_rate_points(self):
        return ["s", "m", "l"]

    def encode(self, clip, rate_point, workdir):
        raise NotImplementedError

    def decode(self, bitstream, workdir):
        raise NotImplementedError

    def available(self):
        with open(os.environ["FAKE_PROBE_LOG"], "a") as f:
            f.write("probed\\n")
        weights = Path(os.environ["FAKE_WEIGHTS"])
        detail = "present" if weights.is_file() else "missing: runs fallback[mini]"
        req = Requirement("weights", "big model", True, detail, str(weights))
        return Availability.of([req], stand_in="" if weights.is_file() else "fallback[mini]")
"""


@pytest.fixture
def fake_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A plugin package with a codec that falls back to a stand-in, and one whose module is missing;
    a private probe cache, and no zoo weights (an empty torch hub folder)."""
    root = tmp_path / "site"
    (root / "fake_codecs-1.0.dist-info").mkdir(parents=True)
    (root / "fake_codecs-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-codecs\nVersion: 1.0\n"
    )
    (root / "fake_codecs-1.0.dist-info" / "entry_points.txt").write_text(
        "[codecbench.codecs]\nfallback = fake_codecs:Fallback\nbroken = no_such_module_here:Codec\n"
    )
    (root / "fake_codecs.py").write_text(FAKE_MODULE)
    monkeypatch.syspath_prepend(str(root))
    paths = {"log": tmp_path / "probes.log", "weights": tmp_path / "big.pth", "cache": tmp_path / "cache"}
    monkeypatch.setenv("FAKE_PROBE_LOG", str(paths["log"]))
    monkeypatch.setenv("FAKE_WEIGHTS", str(paths["weights"]))
    monkeypatch.setenv("CODECBENCH_CACHE", str(paths["cache"]))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return paths


def run_list(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["list", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def rows(table: str) -> dict[str, str]:
    """Table rows by their first cell."""
    return {line.split()[0]: line for line in table.splitlines()[2:] if line.strip()}


def assert_fits(text: str) -> None:
    wide = [line for line in text.splitlines() if len(line) > MAX_WIDTH]
    assert not wide, wide


def test_codec_table_fits_and_says_what_runs(fake_plugins: dict[str, Path], capsys) -> None:
    code, out, err = run_list(capsys, "codecs")
    assert code == 0, err
    assert_fits(out)
    table = rows(out.split("\n\n")[0])
    assert table["fallback"].split()[1:3] == ["stand-in:", "fallback[mini]"]
    assert table["broken"].split()[1:4] == ["no:", "cannot", "load"]
    assert table["hevc"].split()[1] == "yes"
    # CompressAI codecs without zoo weights (empty TORCH_HOME) are "no" with a short reason.
    assert "no: missing weights" in table["mbt2018-mean"]
    assert table["fallback"].endswith("...")  # the long description is shortened
    assert "codecbench list codecs NAME" in out


def test_probe_cache_is_used_and_invalidated(fake_plugins: dict[str, Path], capsys) -> None:
    log = fake_plugins["log"]
    assert run_list(capsys, "codecs", "fallback")[0] == 0
    assert run_list(capsys, "codecs", "fallback")[0] == 0
    assert log.read_text().count("probed") == 1  # the second listing came from the cache
    fake_plugins["weights"].write_bytes(b"w")  # a path the requirements checked changed
    code, out, _ = run_list(capsys, "codecs")
    assert code == 0 and rows(out.split("\n\n")[0])["fallback"].split()[1] == "yes"
    assert log.read_text().count("probed") == 2
    run_list(capsys, "codecs", "fallback", "--refresh")
    assert log.read_text().count("probed") == 3


def test_details_of_a_codec(fake_plugins: dict[str, Path], toy_plugin: Path, capsys) -> None:
    code, out, err = run_list(capsys, "codecs", "toy", "fallback")
    assert code == 0, err
    assert_fits(out)
    toy, fallback = out.split("\n\n")
    assert toy.startswith("toy  (codec, entry point toy_codec:ToyCodec)")
    assert "uniform quantiser + zlib (test plugin)" in toy and "available: yes" in toy
    assert "options (--codec-opt toy.KEY=VALUE):" in toy
    assert "- level = 6 (one of 0, 1, 2, 3, 4, 5, 6, 7, 8, 9): zlib level" in toy
    assert "default rate points (step, lowest rate first): 64, 32, 16, 8" in toy
    assert "available: yes, as the stand-in fallback[mini]" in fallback
    assert "ok      weights big model: missing: runs fallback[mini]" in fallback
    assert f"path: {fake_plugins['weights']}" in fallback


def test_unknown_name_is_a_clear_error(fake_plugins: dict[str, Path], capsys) -> None:
    code, out, err = run_list(capsys, "codecs", "hevc", "nope")
    assert code == 2 and out == ""
    assert "unknown codec 'nope'; known codecs:" in err and "hevc" in err and "Traceback" not in err
    code, _, err = run_list(capsys, "metrics", "psnr_z")
    assert code == 2 and "unknown metric 'psnr_z'" in err and "psnr_y" in err
    code, _, err = run_list(capsys, "datasets", "nope")
    assert code == 2 and "unknown dataset 'nope'" in err and "sample" in err


def test_metric_and_dataset_tables_fit(fake_plugins: dict[str, Path], capsys) -> None:
    code, out, _ = run_list(capsys, "metrics")
    assert code == 0
    assert_fits(out)
    table = rows(out.split("\n\n")[0])
    assert table["psnr_y"].split()[1] == "yes" and "no: missing weights" in table["lpips_alex"]
    code, out, _ = run_list(capsys, "metrics", "lpips_alex")
    assert "weights alexnet" in out and str(Path(fake_plugins["cache"]).parent / "torch") in out
    code, out, _ = run_list(capsys, "datasets")
    assert code == 0
    assert_fits(out)
    assert rows(out.split("\n\n")[0])["uvg"].split()[1:3] == ["7", "download"]
    code, out, _ = run_list(capsys, "datasets", "sample")
    assert code == 0 and "Clouds_384x256_24.yuv" in out


def test_divinr_without_svd_weights_is_listed_as_its_stand_in(
    fake_plugins: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    pytest.importorskip("diffusers")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf"))
    code, out, err = run_list(capsys, "codecs", "divinr", "--refresh")
    assert code == 0, err
    assert "available: yes, as the stand-in divinr[mini]" in out
    assert str(tmp_path / "hf" / "models--stabilityai--stable-video-diffusion-img2vid-xt") in out
    assert "default rate points (inr_size, lowest rate first): xs, s, m, l" in out
    assert "DIVINR FALLBACK" not in err  # listing never triggers the run-time fallback warning
    code, out, _ = run_list(capsys, "codecs")
    assert rows(out.split("\n\n")[0])["divinr"].split()[1:3] == ["stand-in:", "divinr[mini]"]


@pytest.mark.slow
def test_a_cached_listing_imports_no_heavy_library(tmp_path: Path) -> None:
    """Once probed, ``list codecs`` answers without importing torch, diffusers or compressai."""
    env_cache = {"CODECBENCH_CACHE": str(tmp_path / "cache")}
    script = (
        "import sys; from codecbench.cli import main; rc = main(['list', 'codecs']); "
        "heavy = sorted(m for m in ('torch', 'diffusers', 'compressai') if m in sys.modules); "
        "print('HEAVY', heavy); sys.exit(rc)"
    )
    env = {**os.environ, **env_cache}
    first = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert first.returncode == 0, first.stderr
    second = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert second.returncode == 0, second.stderr
    assert "HEAVY []" in second.stdout
    assert rows(second.stdout.split("\n\n")[0])["hevc"] == rows(first.stdout.split("\n\n")[0])["hevc"]
