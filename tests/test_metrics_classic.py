"""PSNR, MS-SSIM and VMAF against independent references: ffmpeg psnr and libvmaf, pytorch-msssim."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from codecbench import ffmpeg
from codecbench.errors import InputFormatError
from codecbench.metrics.base import Metric
from codecbench.metrics.msssim import ms_ssim
from codecbench.metrics.psnr import PSNR_CAP_DB, quantized_rgb
from codecbench.registry import create_metric, metric_names
from codecbench.video import Clip, Frame, VideoFormat, read_yuv
from codecbench.yuv import write_yuv, yuv_to_rgb


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


def test_ms_ssim_values_do_not_depend_on_the_thread_count() -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.rand(3, 1, 170, 300, generator=g)
    y = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ms_ssim(x, y)
        torch.set_num_threads(3)  # three planes, one per worker thread
        three = ms_ssim(x, y)
        assert torch.get_num_threads() == 3  # the caller's setting is restored
    finally:
        torch.set_num_threads(saved)
    assert torch.equal(one, three)


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


def _coded_pair(tmp: Path, fmt: VideoFormat, n: int) -> tuple[Clip, Clip]:
    """Camera-like content (ffmpeg's mandelbrot zoom, blurred and grained) and its x265 decode."""
    ref, dist, hevc = tmp / "ref.yuv", tmp / "dist.yuv", tmp / "dist.hevc"
    source = f"mandelbrot=size={fmt.width}x{fmt.height}:rate=25,gblur=sigma=1,noise=alls=6:allf=t"
    ffmpeg.run(
        [
            "-f",
            "lavfi",
            "-i",
            source,
            "-frames:v",
            str(n),
            "-pix_fmt",
            fmt.pix_fmt,
            "-f",
            "rawvideo",
            str(ref),
        ]
    )
    x265 = ["-c:v", "libx265", "-preset", "ultrafast", "-crf", "36", "-x265-params", "log-level=error"]
    ffmpeg.run([*ffmpeg.rawvideo_input(ref, fmt.pix_fmt, fmt.width, fmt.height), *x265, str(hevc)])
    ffmpeg.run(["-i", str(hevc), "-f", "rawvideo", "-pix_fmt", fmt.pix_fmt, str(dist)])
    return Clip("ref", ref, fmt, 25.0, n), Clip("dist", dist, fmt, 25.0, n)


def test_ms_ssim_matches_pytorch_msssim_on_coded_content(tmp_path: Path) -> None:
    """Per frame, within 1e-5, on textured content with real coding artefacts; sizes whose
    scales leave partial blocks and odd sizes."""
    from pytorch_msssim import ms_ssim as reference

    fmt = VideoFormat(480, 274)
    ref, dist = _coded_pair(tmp_path, fmt, n=3)
    got_y = create_metric("ms_ssim_y").evaluate(ref, dist)
    got_rgb = create_metric("ms_ssim_rgb").evaluate(ref, dist)
    for i, (r, d) in enumerate(zip(ref.read(), dist.read(), strict=True)):
        ty = [torch.from_numpy(f.y.astype(np.float32))[None, None] for f in (r, d)]
        trgb = [torch.from_numpy(yuv_to_rgb(f, fmt)).permute(2, 0, 1)[None] for f in (r, d)]
        assert abs(got_y[i] - reference(*ty, data_range=255).item()) <= 1e-5
        assert abs(got_rgb[i] - reference(*trgb, data_range=1.0).item()) <= 1e-5
    assert np.all((got_y > 0.8) & (got_y < 0.995)), got_y


def test_ms_ssim_keeps_its_precision_when_matmul_precision_is_lowered() -> None:
    """A library calling set_float32_matmul_precision("medium") (bfloat16 products on CPU)
    must not cost MS-SSIM its agreement: it computes in float64 then."""
    from pytorch_msssim import ms_ssim as reference

    g = torch.Generator().manual_seed(1)
    x = torch.nn.functional.avg_pool2d(torch.rand(1, 1, 200, 240, generator=g), 5, stride=1, padding=2)
    y = (x + 0.02 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    want = reference(x, y, data_range=1.0, size_average=False)
    torch.set_float32_matmul_precision("medium")
    try:
        got = ms_ssim(x, y)
    finally:
        torch.set_float32_matmul_precision("highest")
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize(("dtype", "top", "shape"), [("u1", 255, (1080, 1920)), ("<u2", 1023, (540, 960))])
def test_psnr_mse_is_the_float64_mean_bit_for_bit(dtype: str, top: int, shape: tuple[int, int]) -> None:
    from codecbench.metrics.psnr import _mse, plane_psnr

    rng = np.random.default_rng(5)
    a = rng.integers(0, top + 1, shape).astype(dtype)
    b = np.clip(a.astype(np.int64) + rng.integers(-40, 41, shape), 0, top).astype(dtype)
    diff = a.astype(np.float64) - b.astype(np.float64)
    assert _mse(a, b) == float(np.mean(diff * diff))
    assert _mse(a, b) == int(((a.astype(np.int64) - b) ** 2).sum()) / a.size
    assert plane_psnr(a, a, top) == PSNR_CAP_DB
    # full 16-bit range and a non-contiguous plane take the same exact path
    c = rng.integers(0, 65536, (64, 80)).astype("<u2")
    assert _mse(c[:, ::2], c[:, 1::2]) == int(((c[:, ::2].astype(np.int64) - c[:, 1::2]) ** 2).sum()) / (
        64 * 40
    )


class _FileMetric(Metric):
    """A plugin that promises nothing about frames: it must get the clips on disk."""

    name = "file_metric"
    seen: list[Clip] = []

    def evaluate(self, ref: Clip, dist: Clip) -> np.ndarray:
        self.seen += [ref, dist]
        return np.array([float(np.mean(r.y)) - float(np.mean(d.y)) for r, d in zip(ref.read(), dist.read())])


def test_frame_metrics_share_one_read_and_one_rgb_conversion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codecbench.metrics import frames

    fmt = VideoFormat(192, 176)
    ref, dist = _pair(tmp_path, fmt, n=6, used=5, sigma=8.0)
    names = ("psnr_y", "psnr_yuv", "psnr_rgb", "ms_ssim_y", "ms_ssim_rgb")
    alone = [create_metric(n).evaluate(ref, dist) for n in names]
    alone.append(_FileMetric().evaluate(ref, dist))

    reads, conversions = [], []
    read_shared, yuv_to_rgb_ = frames.read_shared, frames.yuv_to_rgb
    monkeypatch.setattr(
        frames, "read_shared", lambda c, s, n: reads.append((c.path, s, n)) or read_shared(c, s, n)
    )
    monkeypatch.setattr(frames, "yuv_to_rgb", lambda f, m: conversions.append(f) or yuv_to_rgb_(f, m))
    monkeypatch.setattr(frames, "_Reader", None)  # frame-local metrics never stream the files themselves
    _FileMetric.seen = []
    budget = 2 * (2 * fmt.frame_bytes + 2 * 3 * 4 * fmt.pixels)  # two frame pairs and their RGB
    assert frames.chunk_frames(fmt, True, budget) == 2
    metrics = [create_metric(n) for n in names] + [_FileMetric()]
    shared = frames.evaluate_frame_metrics(metrics, ref, dist, budget=budget)

    for got, want in zip(shared, alone, strict=True):
        np.testing.assert_array_equal(got, want)
    assert reads == [(c.path, s, n) for s, n in ((0, 2), (2, 2), (4, 1)) for c in (ref, dist)]
    assert len(conversions) == 2 * 5 and len({id(f) for f in conversions}) == 10  # once per frame
    assert _FileMetric.seen == [ref, dist] and all(type(c) is Clip for c in _FileMetric.seen)


def test_shared_clips_are_read_only_runs_of_frames(tmp_path: Path) -> None:
    from codecbench.metrics import frames

    fmt = VideoFormat(64, 48)
    ref, _ = _pair(tmp_path, fmt, n=5, used=5)
    run = frames.shared_run(ref, 1, 3)
    assert run.frames == 3 and not run.path.exists()  # a metric opening the file fails loudly
    got = list(run.read())
    want = list(ref.read(start=1, count=3))
    assert all(np.array_equal(g.y, w.y) and np.array_equal(g.v, w.v) for g, w in zip(got, want, strict=True))
    assert not got[0].y.flags.writeable
    assert frames.shared_run(ref, 0, 5).path == ref.path
    assert [f.y.tolist() for f in run.read(start=1, count=1)] == [want[1].y.tolist()]
    assert frames.rgb(got[0], fmt) is frames.rgb(got[0], fmt)  # converted once
    # 1080p with an RGB metric: a handful of frames per chunk, within the budget
    hd = VideoFormat(1920, 1080)
    n = frames.chunk_frames(hd, True)
    assert 1 <= n <= 8 and n * (2 * hd.frame_bytes + 24 * hd.pixels) <= frames.DEFAULT_BUDGET
    assert frames.chunk_frames(hd, False) >= 16
