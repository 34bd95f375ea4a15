"""DiV-INR at clip scale: windows that overlap and blend, steps per window, an INR sized per clip, seams."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from codecbench_divinr.config import DivInrConfig, InrSize
from codecbench_divinr.encoder import fit_clip
from codecbench_divinr.inr import PositionalEncoding, frame_times
from codecbench_divinr.ladder import (
    BITS_PER_PARAM,
    LADDER,
    RatePoint,
    freqs_for,
    inr_for,
    inr_params,
    ladder_table,
    main,
    predicted_bpp,
)
from codecbench_divinr.sampler import blend_weights, frame_noise, generate, segments, windows
from codecbench_divinr.seams import seam_pairs, seam_summary, seam_table
from lightning.pytorch.callbacks import Callback

from codecbench.video import Clip, Frame, VideoFormat
from codecbench.yuv import write_yuv

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.mark.parametrize(
    ("frames", "size", "overlap", "starts"),
    [
        (16, 8, 0, [0, 8]),  # divides: the old layout
        (16, 8, 2, [0, 4, 8]),
        (17, 8, 0, [0, 4, 9]),  # no one-frame tail: three full windows
        (600, 25, 4, None),
        (5, 8, 2, [0]),  # shorter than a window: one window of the clip
    ],
)
def test_windows_cover_the_clip_with_full_windows(
    frames: int, size: int, overlap: int, starts: list | None
) -> None:
    ranges = windows(frames, size, overlap)
    if starts is not None:
        assert [r.start for r in ranges] == starts
    assert ranges[0].start == 0 and ranges[-1].stop == frames
    assert all(len(r) == min(size, frames) for r in ranges)
    for a, b in zip(ranges, ranges[1:]):
        assert a.stop - b.start >= overlap and b.start > a.start
    if frames > size:
        assert len(ranges) == math.ceil((frames - overlap) / (size - overlap))
    parts = segments(ranges, frames)
    assert [i for p in parts for i in p] == list(range(frames))
    with pytest.raises(ValueError):
        windows(20, 8, 8)


def test_blend_weights_sum_to_one_on_every_frame() -> None:
    for frames, size, overlap in [(16, 8, 2), (17, 8, 0), (40, 8, 3), (9, 8, 1)]:
        ranges = windows(frames, size, overlap)
        total = torch.zeros(frames)
        for k, r in enumerate(ranges):
            w = blend_weights(ranges, k)
            assert (w > 0).all() and (w <= 1).all()
            total[r.start : r.stop] += w
        assert torch.allclose(total, torch.ones(frames)), (frames, size, overlap, total)


def test_a_frame_gets_the_same_noise_in_every_window() -> None:
    whole = frame_noise(7, range(0, 12), (2, 3, 3))
    assert torch.equal(frame_noise(7, range(4, 12), (2, 3, 3)), whole[4:])
    assert not torch.equal(frame_noise(8, range(0, 12), (2, 3, 3)), whole)
    assert not torch.equal(whole[0], whole[1])


def make_clip(path: Path, w: int = 32, h: int = 32, n: int = 10) -> Clip:
    fmt = VideoFormat(w, h)
    yy, xx = np.mgrid[0:h, 0:w]
    c = np.full((h // 2, w // 2), 128, np.uint8)
    write_yuv(path, fmt, [Frame(((xx * 3 + yy + 9 * i) % 200 + 16).astype(np.uint8), c, c) for i in range(n)])
    return Clip("grad", path, fmt, 24.0, n)


def test_steps_are_budgeted_per_window(tmp_path: Path) -> None:
    """10 frames in windows of 4 with overlap 1 are 3 windows: 2 warm-up + 3 joint steps on each."""
    seen: list[tuple[float, bool]] = []

    class Record(Callback):
        def on_train_batch_start(self, trainer, module, batch, *args) -> None:  # noqa: ANN001, ANN002
            seen.append((round(float(batch["t"][0, 0]) * 9), module.global_step < module.warmup_total))

    clip = make_clip(tmp_path / "c.yuv")
    cfg = DivInrConfig(inr=InrSize(4, 8, (4, 4)), steps=3, warmup_steps=2, inference_steps=1, overlap=1)
    module = fit_clip(clip, cfg, tmp_path / "w", window=4, progress=False, callbacks=[Record()])
    assert module.trainer.global_step == 15
    starts = [r.start for r in windows(10, 4, 1)]
    assert starts == [0, 3, 6]
    for start in starts:
        assert sum(1 for s, warm in seen if s == start and warm) == 2
        assert sum(1 for s, warm in seen if s == start and not warm) == 3
    assert [warm for _, warm in seen] == [True] * 6 + [False] * 9


def test_generate_blends_overlaps_and_yields_every_frame_once(tmp_path: Path) -> None:
    """With overlap the decoder yields each frame once; a shared frame is the blend of its windows."""
    from codecbench_divinr.module import DivInrModule
    from codecbench_divinr.sampler import decode_latents, sample_window

    cfg = DivInrConfig(inr=InrSize(4, 8, (4, 4)), inference_steps=1, window=4, overlap=2)
    module = DivInrModule(cfg, (4, 4), 1, "encode").eval()
    torch.set_num_threads(1)
    out = torch.cat(list(generate(module, 6, 1, 0, 4, 2)))
    assert out.shape[0] == 6
    ranges = windows(6, 4, 2)
    assert [r.start for r in ranges] == [0, 2]
    t = frame_times(6)
    with torch.no_grad():
        lats = [sample_window(module, module.inr(t[r.start : r.stop]), 1, 0, frames=r)[0] for r in ranges]
    # frames 2, 3 are shared: weights 2/3, 1/3 then 1/3, 2/3 (window 0 fades out, window 1 in)
    mixed = torch.cat([lats[0][:2], lats[0][2:] * torch.tensor([2 / 3, 1 / 3]).view(-1, 1, 1, 1)
                       + lats[1][:2] * torch.tensor([1 / 3, 2 / 3]).view(-1, 1, 1, 1), lats[1][2:]])  # fmt: skip
    expect = torch.cat([decode_latents(module, mixed[s.start : s.stop]) for s in segments(ranges, 6)])
    assert torch.allclose(out, expect, atol=1e-5)
    assert not torch.allclose(lats[0][2:], lats[1][:2], atol=1e-3)  # the windows disagree: blending matters


def test_the_ladder_sizes_the_inr_to_the_clip() -> None:
    for point in LADDER.values():
        half = inr_for(point, 1920, 1080, 300)
        full = inr_for(point, 1920, 1080, 600)
        hw = (135, 240)
        assert 1.7 < inr_params(full, hw) / inr_params(half, hw) < 2.3  # twice the frames, ~twice the INR
        # the rate a size predicts holds across lengths and resolutions (large clips: header negligible)
        for w, h, n in [(1920, 1080, 600), (1280, 720, 300), (3840, 2160, 120)]:
            assert 0.8 * point.bpp < predicted_bpp(inr_for(point, w, h, n), w, h, n) <= 1.05 * point.bpp
    bpps = [r["predicted_bpp"] for r in ladder_table(1920, 1080, 600, list(LADDER))]
    assert bpps == sorted(bpps) and bpps[-1] < 0.05
    assert inr_for(RatePoint(0.0, 2.0), 64, 64, 2).channels == (2, 2, 2, 2, 2)  # never empty
    assert BITS_PER_PARAM > 0


def test_time_encoding_tells_consecutive_frames_apart_at_600_frames() -> None:
    assert freqs_for(16) == 11 and freqs_for(600) == 27 and freqs_for(2) == 8
    t = frame_times(600)
    for freqs, ok in [(8, False), (freqs_for(600), True)]:
        pe = PositionalEncoding(freqs)(t)
        step = (pe[1:] - pe[:-1]).norm(dim=1) / pe[0].norm()
        assert bool(step.min() > 0.15) is ok, (freqs, float(step.min()))


def test_ladder_cli_prints_and_writes_a_table(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert (
        main(["--width", "1920", "--height", "1080", "--frames", "600", "--csv", str(tmp_path / "l.csv")])
        == 0
    )
    table = pd.read_csv(tmp_path / "l.csv")
    assert list(table.rate_point[:4]) == list(LADDER) and (table.params > 1e6).all()
    assert "predicted_bpp" in capsys.readouterr().out
    assert main(["--frames", "0"]) == 2


def test_seam_measure_finds_a_jump_at_the_seam() -> None:
    ranges = windows(16, 8, 0)
    assert [i for i, s in enumerate(seam_pairs(ranges, 16)) if s] == [7]
    assert [i for i, s in enumerate(seam_pairs(windows(16, 8, 2), 16)) if s] == [3, 7, 11]
    rng = np.random.default_rng(0)
    base = rng.integers(0, 200, (16, 16)).astype(np.uint8)
    source = [np.clip(base.astype(int) + i, 0, 255).astype(np.uint8) for i in range(16)]
    smooth = seam_summary(seam_table(source, source, ranges))
    assert abs(smooth["seam_drop_db"]) < 1.0 and smooth["seams"] == 1
    jumpy = [
        f if i < 8 else np.clip(f.astype(int) + 25, 0, 255).astype(np.uint8) for i, f in enumerate(source)
    ]
    assert seam_summary(seam_table(jumpy, source, ranges))["seam_drop_db"] > 10
    with pytest.raises(Exception, match="decoded frames"):
        seam_table(source[:3], source, ranges)
