"""PSNR, MS-SSIM and VMAF against independent references: ffmpeg psnr and libvmaf, pytorch-msssim."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from codecbench import ffmpeg
from codecbench.errors import InputFormatError
from codecbench.metrics.msssim import ms_ssim
from codecbench.metrics.psnr import PSNR_CAP_DB, quantized_rgb
from codecbench.registry import create_metric, metric_names
from codecbench.video import Clip, Frame, VideoFormat
from codecbench.yuv import read_yuv, write_yuv, yuv_to_rgb


def _frames(fmt: VideoFormat, n: int, seed: int) -> list[Frame]:
    """Textured moving content: gradients, a moving square and noise, at the format's bit depth."""
    rng = np.random.default_rng(seed)
    top = fmt.max_value
    out = []
    for i in range(n):
        planes = []
        for h, w in fmt.plane_shapes:
            yy, xx = np.mgrid[0:h, 0:w]
            base = 0.5 + 0.3 * np.sin(xx / (7.0 + i) + yy / 11.0) * np.cos(yy / 5.0 - i)
            base[h // 4 : h // 2, (i * 5) % (w // 2) : (i * 5) % (w // 2) + w // 4] += 0.2
            base += rng.normal(0, 0.03, size=(h, w))
            planes.append(np.clip(np.rint(base * top), 0, top).astype(fmt.dtype))
        out.append(Frame(*planes))
    return out


def _distort(frames: list[Frame], fmt: VideoFormat, sigma: float, seed: int) -> list[Frame]:
    rng = np.random.default_rng(seed)
    top = fmt.max_value

    def d(p: np.ndarray) -> np.ndarray:
        noisy = p.astype(np.float64) + rng.normal(0, sigma * top / 255, size=p.shape)
        return np.clip(np.rint(noisy), 0, top).astype(fmt.dtype)

    return [Frame(d(f.y), d(f.u), d(f.v)) for f in frames]


def _pair(tmp: Path, fmt: VideoFormat, n: int, used: int, sigma: float = 6.0) -> tuple[Clip, Clip]:
    """A reference and a distorted file of ``n`` frames, as clips using their first ``used`` frames."""
    ref = _frames(fmt, n, seed=1)
    write_yuv(tmp / "ref.yuv", fmt, ref)
    write_yuv(tmp / "dist.yuv", fmt, _distort(ref, fmt, sigma, seed=2))
    return (
        Clip("ref", tmp / "ref.yuv", fmt, 25.0, used),
        Clip("dist", tmp / "dist.yuv", fmt, 25.0, used),
    )


def _truncated(clip: Clip, path: Path) -> Path:
    """A copy of the clip's used frames only, so ffmpeg's inputs hold exactly those frames."""
    write_yuv(path, clip.format, clip.read())
    return path


def _ffmpeg_psnr_stats(ref: Path, dist: Path, pix_fmt: str, w: int, h: int, tmp: Path) -> list[dict]:
    stats = tmp / "psnr.log"
    ffmpeg.run(
        [
            *ffmpeg.rawvideo_input(dist, pix_fmt, w, h),
            *ffmpeg.rawvideo_input(ref, pix_fmt, w, h),
            "-lavfi",
            f"[0:v][1:v]psnr=stats_file={stats}",
            "-f",
            "null",
            "-",
        ]
    )
    rows = []
    for line in stats.read_text().splitlines():
        rows.append({k: float(v) for k, v in (kv.split(":") for kv in line.split())})
    return rows


def test_metrics_are_registered() -> None:
    want = {"psnr_y", "psnr_yuv", "psnr_rgb", "ms_ssim_y", "ms_ssim_rgb", "vmaf", "vmaf_neg"}
    want |= {"lpips_alex", "lpips_vgg", "dists", "fid", "kid"}
    assert want <= set(metric_names())
    assert create_metric("psnr_y").higher_is_better and not create_metric("fid").higher_is_better
    assert create_metric("fid").kind == "distribution" and create_metric("psnr_rgb").input == "rgb"


@pytest.mark.parametrize("bit_depth", [8, 10])
def test_psnr_matches_ffmpeg_per_frame(tmp_path: Path, bit_depth: int) -> None:
    fmt = VideoFormat(96, 64, bit_depth)
    ref, dist = _pair(tmp_path, fmt, n=5, used=3)
    stats = _ffmpeg_psnr_stats(
        _truncated(ref, tmp_path / "r3.yuv"),
        _truncated(dist, tmp_path / "d3.yuv"),
        fmt.pix_fmt,
        96,
        64,
        tmp_path,
    )
    assert len(stats) == 3
    y = create_metric("psnr_y").evaluate(ref, dist)
    yuv = create_metric("psnr_yuv").evaluate(ref, dist)
    want_y = np.array([s["psnr_y"] for s in stats])
    want_yuv = np.array([(6 * s["psnr_y"] + s["psnr_u"] + s["psnr_v"]) / 8 for s in stats])
    assert y.shape == (3,) and np.all(y < 60)
    np.testing.assert_allclose(y, want_y, atol=0.01)
    np.testing.assert_allclose(yuv, want_yuv, atol=0.01)
    # The sequence value is the mean of per-frame PSNR (JVET), not ffmpeg's PSNR of the mean MSE.
    assert create_metric("psnr_y").summarize(y) == pytest.approx(want_y.mean(), abs=0.01)


def test_psnr_rgb_matches_ffmpeg_on_the_same_rgb(tmp_path: Path) -> None:
    fmt = VideoFormat(96, 64, 8)
    ref, dist = _pair(tmp_path, fmt, n=3, used=3)
    for clip, name in ((ref, "r.rgb"), (dist, "d.rgb")):
        with open(tmp_path / name, "wb") as f:
            for fr in clip.read():
                f.write(quantized_rgb(fr, fmt).astype(np.uint8).tobytes())
    stats = _ffmpeg_psnr_stats(tmp_path / "r.rgb", tmp_path / "d.rgb", "rgb24", 96, 64, tmp_path)
    got = create_metric("psnr_rgb").evaluate(ref, dist)
    np.testing.assert_allclose(got, [s["psnr_avg"] for s in stats], atol=0.01)


def test_psnr_identical_is_capped(tmp_path: Path) -> None:
    fmt = VideoFormat(64, 64)
    write_yuv(tmp_path / "a.yuv", fmt, _frames(fmt, 2, seed=3))
    clip = Clip("a", tmp_path / "a.yuv", fmt, 25.0, 2)
    for name in ("psnr_y", "psnr_yuv", "psnr_rgb"):
        assert list(create_metric(name).evaluate(clip, clip)) == [PSNR_CAP_DB, PSNR_CAP_DB]


@pytest.mark.parametrize("bit_depth", [8, 10])
def test_ms_ssim_matches_pytorch_msssim(tmp_path: Path, bit_depth: int) -> None:
    from pytorch_msssim import ms_ssim as reference

    fmt = VideoFormat(200, 176, bit_depth)
    ref, dist = _pair(tmp_path, fmt, n=3, used=3, sigma=10.0)
    got_y = create_metric("ms_ssim_y", {"batch_size": "2"}).evaluate(ref, dist)
    got_rgb = create_metric("ms_ssim_rgb").evaluate(ref, dist)
    for i, (r, d) in enumerate(zip(ref.read(), dist.read(), strict=True)):
        ty = [torch.from_numpy(f.y.astype(np.float32))[None, None] for f in (r, d)]
        want_y = reference(*ty, data_range=fmt.max_value).item()
        trgb = [torch.from_numpy(yuv_to_rgb(f, fmt)).permute(2, 0, 1)[None] for f in (r, d)]
        want_rgb = reference(*trgb, data_range=1.0).item()
        assert got_y[i] == pytest.approx(want_y, abs=1e-5)
        assert got_rgb[i] == pytest.approx(want_rgb, abs=1e-5)
        assert 0.5 < got_y[i] < 0.999
    same = create_metric("ms_ssim_y").evaluate(ref, ref)
    np.testing.assert_allclose(same, 1.0, atol=1e-6)


def test_ms_ssim_odd_sizes_match_pytorch_msssim() -> None:
    from pytorch_msssim import ms_ssim as reference

    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 181, 263, generator=g)
    y = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    np.testing.assert_allclose(ms_ssim(x, y), reference(x, y, data_range=1.0, size_average=False), atol=1e-5)


def test_ms_ssim_does_not_fit_small_frames() -> None:
    assert not create_metric("ms_ssim_y").fits(VideoFormat(320, 160))
    assert create_metric("ms_ssim_y").fits(VideoFormat(320, 192))


def _ffmpeg_vmaf(ref: Path, dist: Path, fmt: VideoFormat, model: str, tmp: Path) -> dict:
    """libvmaf run directly on files holding exactly the frames to score (distorted first)."""
    log = tmp / f"{model}.json"
    ffmpeg.run(
        [
            *ffmpeg.rawvideo_input(dist, fmt.pix_fmt, fmt.width, fmt.height),
            *ffmpeg.rawvideo_input(ref, fmt.pix_fmt, fmt.width, fmt.height),
            "-lavfi",
            f"[0:v][1:v]libvmaf=model=version={model}:log_fmt=json:log_path={log}",
            "-f",
            "null",
            "-",
        ]
    )
    return json.loads(log.read_text())


@pytest.mark.parametrize(
    ("name", "model", "bit_depth"), [("vmaf", "vmaf_v0.6.1", 8), ("vmaf_neg", "vmaf_v0.6.1neg", 10)]
)
def test_vmaf_matches_libvmaf_on_exactly_the_clip_frames(
    tmp_path: Path, name: str, model: str, bit_depth: int
) -> None:
    metric = create_metric(name)
    if not metric.available():
        pytest.skip(f"this ffmpeg has no libvmaf: {metric.available().reason}")
    fmt = VideoFormat(176, 144, bit_depth)
    ref, dist = _pair(tmp_path, fmt, n=6, used=4, sigma=20.0)
    got = metric.evaluate(ref, dist)
    log = _ffmpeg_vmaf(
        _truncated(ref, tmp_path / "r4.yuv"), _truncated(dist, tmp_path / "d4.yuv"), fmt, model, tmp_path
    )
    want = np.array([f["metrics"]["vmaf"] for f in log["frames"]])
    assert got.shape == (4,) and want.shape == (4,)
    np.testing.assert_allclose(got, want, atol=0.01)
    assert metric.summarize(got) == pytest.approx(log["pooled_metrics"]["vmaf"]["mean"], abs=0.01)
    same = metric.evaluate(ref, ref)
    assert np.all(same >= got) and same.mean() > got.mean() + 5


def test_mismatched_clips_are_a_clear_error(tmp_path: Path) -> None:
    fmt = VideoFormat(176, 176)
    ref, dist = _pair(tmp_path, fmt, n=3, used=3)
    short = Clip("dist", dist.path, fmt, 25.0, 2)
    for name in ("vmaf", "ms_ssim_y", "psnr_y"):
        with pytest.raises(InputFormatError, match="frames"):
            create_metric(name).evaluate(ref, short)


def test_psnr_reads_only_the_clip_frames(tmp_path: Path) -> None:
    fmt = VideoFormat(64, 64)
    ref, dist = _pair(tmp_path, fmt, n=4, used=2)
    assert len(create_metric("psnr_y").evaluate(ref, dist)) == 2
    assert len(list(read_yuv(ref.path, fmt))) == 4
