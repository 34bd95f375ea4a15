"""The README's commands and its codec example stay correct."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from codecbench import Codec
from codecbench.datasets import resolve
from codecbench.yuv import read_yuv

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


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
    exec(compile(blocks("python")[0], "README.md", "exec"), namespace)
    codec = namespace["ToyCodec"]()
    assert isinstance(codec, Codec)
    clip = resolve("sample", frames=2, sequences=["Clouds"]).clips[0]
    stream = codec.encode(clip, "8", tmp_path)
    decoded = list(codec.decode(stream, tmp_path))
    assert len(decoded) == 2
    for ref, dec in zip(read_yuv(clip.path, clip.format, count=2), decoded):
        err = np.abs(ref.y.astype(int) - dec.y.astype(int))
        assert err.max() <= 4 and dec.y.dtype == np.uint8
