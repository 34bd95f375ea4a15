"""The README's commands and its codec example stay correct."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from codecbench import Codec
from codecbench.datasets import get_dataset, resolve
from codecbench.video import read_yuv
from tests.conftest import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
FIRST_SAMPLE = get_dataset("sample").sequences[0].name


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_the_two_commands_ci_runs():
    install, test = blocks("bash")[:2]
    assert 'pip install -e ".[dev]"' in install and "codecbench run --codecs divinr,hevc,vvc" in install
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -q -e ".[dev]"' in ci
    assert test.strip().split("&& ")[-1] in ci


def test_readme_codec_example_round_trips(tmp_path):
    namespace: dict = {}
    (example,) = [b for b in blocks("python") if "class ToyCodec" in b]
    exec(compile(example, "README.md", "exec"), namespace)
    codec = namespace["ToyCodec"]()
    assert isinstance(codec, Codec)
    clip = resolve("sample", frames=2, sequences=[FIRST_SAMPLE]).clips[0]
    stream = codec.encode(clip, "8", tmp_path)
    decoded = list(codec.decode(stream, tmp_path))
    assert len(decoded) == 2
    for ref, dec in zip(read_yuv(clip.path, clip.format, count=2), decoded):
        err = np.abs(ref.y.astype(int) - dec.y.astype(int))
        assert err.max() <= 4 and dec.y.dtype == np.uint8


def package_files() -> dict[str, str]:
    """The files of the README's plugin package: code blocks whose first line is ``# toy-codec/FILE``."""
    files = {}
    for block in re.findall(r"```(?:python|toml)\n(.*?)```", README, flags=re.S):
        first, _, rest = block.partition("\n")
        if first.startswith("# toy-codec/"):
            files[first.removeprefix("# toy-codec/")] = block
    return files


def test_readme_plugin_package_installs_and_runs(tmp_path):
    """The README's package, copied as shown and pip-installed, is found through its entry point."""
    files = package_files()
    assert set(files) == {"pyproject.toml", "toy_codec.py"}
    project = tmp_path / "toy-codec"
    project.mkdir()
    for name, text in files.items():
        (project / name).write_text(text)
    meta = tomllib.loads(files["pyproject.toml"])
    assert meta["project"]["entry-points"]["codecbench.codecs"] == {"toy": "toy_codec:ToyCodec"}
    assert {"requires", "build-backend"} <= set(meta["build-system"])
    site = tmp_path / "site"  # installed into a private folder: the venv is left untouched
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(site), str(project)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr
    assert (site / "toy_codec.py").is_file()
    env = {"PYTHONPATH": str(site)}
    listing = cli("list", "codecs", "toy", env=env)
    assert listing.returncode == 0, listing.stderr
    assert "toy  (codec, entry point toy_codec:ToyCodec)" in listing.stdout
    assert "available: yes" in listing.stdout and "64, 32, 16, 8" in listing.stdout
    out = tmp_path / "out"
    run = cli(
        "run", "--codecs", "toy", "--dataset", "sample", "--frames", "2", "--sequences", FIRST_SAMPLE, "--metrics", "psnr_y",
        "--out", out, "--quiet", env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    results = pd.read_csv(out / "results.csv")
    assert set(results["codec"]) == {"toy"} and len(results) == 4 and (results["status"] == "ok").all()
    assert results["codec_version"].str.startswith("toy-codec 0.1.0; zlib").all()
    curve = results.sort_values("bytes")  # a finer step costs more bytes and gives a higher PSNR
    assert list(curve["rate_point"].astype(str)) == ["64", "32", "16", "8"]
    assert curve["psnr_y"].is_monotonic_increasing and curve["psnr_y"].iloc[-1] > 40


def test_readme_dataset_example_is_a_dataset() -> None:
    from codecbench import Dataset

    (example,) = [b for b in blocks("python") if "MY_SET = Dataset(" in b]
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    ds = namespace["MY_SET"]
    assert isinstance(ds, Dataset) and [s.name for s in ds.sequences] == ["Lab", "Hall"]
    assert callable(ds.build)
