"""The embedded sample, folder datasets and sequence selection."""

from __future__ import annotations

import pytest

from codecbench.datasets import resolve
from codecbench.datasets.folder import folder_dataset, parse_name
from codecbench.datasets.sample import FRAMES, HEIGHT, RECIPES, WIDTH, sample_root
from codecbench.errors import CodecbenchError, InputFormatError, UnknownNameError
from codecbench.paths import cache_dir
from codecbench.video import VideoFormat
from codecbench.yuv import sha256_file


def test_sample_is_generated_once_and_deterministic(tmp_path, monkeypatch):
    first = sample_root()
    sums = {p.name: sha256_file(p) for p in first.glob("*.yuv")}
    assert len(sums) == len(RECIPES)
    assert all(
        p.stat().st_size == FRAMES * VideoFormat(WIDTH, HEIGHT).frame_bytes for p in first.glob("*.yuv")
    )
    assert first.is_relative_to(cache_dir())
    mtimes = {p: p.stat().st_mtime_ns for p in first.glob("*.yuv")}
    assert sample_root() == first and mtimes == {p: p.stat().st_mtime_ns for p in first.glob("*.yuv")}
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path))
    again = sample_root()
    assert again != first
    assert {p.name: sha256_file(p) for p in again.glob("*.yuv")} == sums


def test_sample_clips_differ_in_content():
    sel = resolve("sample")
    assert sel.dataset == "sample" and len(sel.clips) == len(RECIPES)
    firsts = [next(c.read()).y.tobytes() for c in sel.clips]
    assert len(set(firsts)) == len(firsts)


def test_frames_and_sequence_selection():
    sel = resolve("sample", frames=3, sequences=["Mandelbrot"])
    assert [c.name for c in sel.clips] == ["Mandelbrot"]
    assert sel.clips[0].frames == 3 and len(list(sel.clips[0].read())) == 3
    with pytest.raises(UnknownNameError, match="Clouds"):
        resolve("sample", sequences=["Nope"])


def test_unknown_dataset_lists_known():
    with pytest.raises(UnknownNameError, match="sample") as e:
        resolve("nonexistent-set")
    assert "uvg" in str(e.value)


@pytest.mark.parametrize(
    "name,parsed",
    [
        ("Foo_1920x1080_50.yuv", ("Foo", 1920, 1080, 50.0, 8)),
        ("Bar_Baz_832x480_29.97_10bit.yuv", ("Bar_Baz", 832, 480, 29.97, 10)),
        ("Beauty_1920x1080_120fps_10bit.yuv", ("Beauty", 1920, 1080, 120.0, 10)),
        ("nope.yuv", None),
    ],
)
def test_parse_name(name, parsed):
    assert parse_name(name) == parsed


def test_folder_dataset(tmp_path):
    fmt = VideoFormat(16, 8, 10)
    (tmp_path / "A_16x8_30_10bit.yuv").write_bytes(b"\0" * fmt.frame_bytes * 5)
    (tmp_path / "notes.txt").write_text("ignored")
    ds = folder_dataset(tmp_path)
    (seq,) = ds.sequences
    assert (seq.name, seq.frames, seq.bit_depth, seq.fps) == ("A", 5, 10, 30.0)
    sel = resolve(str(tmp_path), frames=2)
    assert sel.clips[0].frames == 2 and sel.clips[0].format == fmt


def test_folder_errors(tmp_path):
    with pytest.raises(CodecbenchError, match="does not exist"):
        folder_dataset(tmp_path / "missing")
    (tmp_path / "badname.yuv").write_bytes(b"\0" * 10)
    with pytest.raises(CodecbenchError, match="Name_WIDTHxHEIGHT_FPS"):
        folder_dataset(tmp_path)
    (tmp_path / "T_16x8_25.yuv").write_bytes(b"\0" * (16 * 8 * 3 // 2 * 2 + 7))
    with pytest.raises(InputFormatError, match="expected a multiple of 192 bytes"):
        folder_dataset(tmp_path)


def test_missing_files_of_named_dataset_say_how_to_get_them(tmp_path):
    with pytest.raises(CodecbenchError, match="missing under"):
        resolve("uvg", root=tmp_path)


def test_natural_is_built_from_real_sources_and_pinned(tmp_path, monkeypatch):
    from codecbench.datasets import natural

    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path))
    sel = resolve("natural")
    assert sel.dataset == "natural" and [c.name for c in sel.clips] == ["Office", "Railing", "Sidewalk"]
    for clip, recipe in zip(sel.clips, natural.RECIPES):
        assert clip.frames >= 16 and (clip.format.width, clip.format.height) == (384, 256)
        assert sha256_file(clip.path) == recipe.sha256
    frames = [next(c.read()).y for c in sel.clips]
    assert all(f.std() > 20 for f in frames)  # camera content, not flat frames
    assert len({f.tobytes() for f in frames}) == 3


def test_natural_refuses_bytes_that_differ_from_the_pin(tmp_path, monkeypatch):
    from dataclasses import replace

    from codecbench.datasets import natural

    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path))
    bad = replace(natural.RECIPES[0], sha256="0" * 64)
    monkeypatch.setattr(natural, "RECIPES", (bad,))
    with pytest.raises(CodecbenchError, match="pinned SHA-256"):
        natural.natural_root()
    assert not list(tmp_path.rglob("*.yuv")) and not list(tmp_path.rglob("manifest.json"))


def test_natural_names_the_missing_package(monkeypatch):
    from dataclasses import replace

    from codecbench.datasets import natural

    missing = replace(natural.BIKES, distribution="no-such-package-codecbench")
    with pytest.raises(CodecbenchError, match="pip install no-such-package-codecbench"):
        missing.locate()


def test_run_defaults_to_natural_video():
    from codecbench.datasets.registry import DEFAULT_DATASET

    assert DEFAULT_DATASET == "natural"


def test_a_dataset_plugin_registers_through_its_entry_point(monkeypatch, capsys):
    from codecbench.cli import main
    from codecbench.datasets import datasets
    from tests.conftest import TOY_DATASET, register_plugin

    assert list(datasets())[:2] == ["natural", "sample"]  # the built-ins, registered the same way
    assert {"uvg", "mcl-jcv", "class-b"} <= set(datasets())
    register_plugin(monkeypatch, TOY_DATASET)
    sel = resolve("toy-set", frames=2)
    assert [c.name for c in sel.clips] == ["RampA", "RampB"] and sel.clips[0].frames == 2
    assert main(["list", "datasets"]) == 0
    assert "toy-set" in capsys.readouterr().out
