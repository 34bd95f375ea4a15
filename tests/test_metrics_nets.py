"""LPIPS, DISTS, FID and KID through their real weight-loading paths, with networks built here.

Random weights are written under the exact file names the libraries look for in a temporary
``$TORCH_HOME/hub/checkpoints``, so torchvision, lpips, piq and torch-fidelity load them as they
would load the published ones; nothing is downloaded. Scores are then checked for the properties
that hold for any weights: identical inputs score 0, a set against itself has FID ~0, a distorted
input scores worse. Missing files make a metric unavailable and name the exact path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from codecbench import weights
from codecbench.cli import main
from codecbench.errors import CodecUnavailableError, UnsupportedInputError
from codecbench.metrics.fid import frechet_distance
from codecbench.metrics.nets import patch_origins
from codecbench.registry import create_metric
from codecbench.video import Clip, Frame, VideoFormat
from codecbench.yuv import write_yuv

NET_METRICS = ("lpips_alex", "lpips_vgg", "dists", "fid", "kid")


def _random_state_dict(build: Callable[[], torch.nn.Module], seed: int, skip_prefix: str = "") -> dict:
    """He-initialised weights for ``build()``'s parameters, built on the meta device (fast).

    Parameters under ``skip_prefix`` (classifier heads the metrics never run) are stored as one
    broadcast zero, which keeps the files small; loading still checks every name and shape.
    """
    with torch.device("meta"):
        shapes = build().state_dict()
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in shapes.items():
        if skip_prefix and k.startswith(skip_prefix):
            out[k] = torch.zeros((), dtype=v.dtype).expand(v.shape)
        elif v.dim() >= 2:
            out[k] = torch.randn(v.shape, generator=g) * (2.0 / v[0].numel()) ** 0.5
        elif "running_var" in k or (k.endswith("weight") and v.dim() == 1):
            out[k] = torch.ones(v.shape, dtype=v.dtype)
        else:
            out[k] = torch.zeros(v.shape, dtype=v.dtype)
    return out


def _inception() -> torch.nn.Module:
    """torch-fidelity's FID Inception with its weight loading stubbed out (only to learn its shapes)."""
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fe, "load_state_dict_from_url", lambda *a, **k: {})
        mp.setattr(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, *a, **k: None)
        return fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torch home whose hub cache holds random weights under the published file names."""
    import torchvision

    home = tmp_path_factory.mktemp("torch_home")
    ckpt = home / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    files = {
        "alexnet": _random_state_dict(torchvision.models.alexnet, 1, "classifier"),
        "vgg16": _random_state_dict(torchvision.models.vgg16, 2, "classifier"),
        "inception_fid": _random_state_dict(_inception, 3),
    }
    g = torch.Generator().manual_seed(4)
    alpha, beta = torch.rand(1, 1475, 1, 1, generator=g), torch.rand(1, 1475, 1, 1, generator=g)
    total = alpha.sum() + beta.sum()
    files["dists_alpha_beta"] = {"alpha": alpha / total, "beta": beta / total}
    for name, sd in files.items():
        torch.save(sd, ckpt / weights.WEIGHTS[name].filename)
    return home


@pytest.fixture
def torch_home(hub: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(hub))
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_download)
    return hub


def _no_download(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"a download was attempted: {args}")


def _clips(tmp: Path, fmt: VideoFormat, n: int, sigmas: tuple[float, ...], seed: int = 0) -> list[Clip]:
    """A textured reference clip followed by copies with Gaussian noise of each ``sigma``."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        planes = []
        for h, w in fmt.plane_shapes:
            yy, xx = np.mgrid[0:h, 0:w]
            base = 128 + 60 * np.sin(xx / (6.0 + i + seed) + yy / 9.0) + rng.normal(0, 10, (h, w))
            planes.append(np.clip(np.rint(base), 16, 235).astype(np.uint8))
        frames.append(Frame(*planes))
    clips = []
    for k, sigma in enumerate((0.0, *sigmas)):

        def noisy(p: np.ndarray, s: float = sigma) -> np.ndarray:
            return np.clip(np.rint(p + rng.normal(0, s, p.shape)), 0, 255).astype(np.uint8)

        path = tmp / f"s{seed}_{k}.yuv"
        write_yuv(path, fmt, (Frame(noisy(f.y), noisy(f.u), noisy(f.v)) for f in frames))
        clips.append(Clip(f"s{seed}_{k}", path, fmt, 25.0, n))
    return clips


def test_missing_weights_make_metrics_unavailable_with_the_exact_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_download)
    fmt = VideoFormat(256, 256)
    clip = _clips(tmp_path, fmt, 1, ())[0]
    for name in NET_METRICS:
        metric = create_metric(name)
        avail = metric.available()
        assert not avail
        needed = [
            weights.WEIGHTS[w]
            for w in weights.METRIC_WEIGHTS[name]
            if w not in ("lpips_alex_lin", "lpips_vgg_lin")
        ]
        for wf in needed:
            assert str(tmp_path / "hub" / "checkpoints" / wf.filename) in avail.reason
        run = metric.features if metric.kind == "distribution" else metric.evaluate
        with pytest.raises(CodecUnavailableError, match="checkpoints"):
            run(clip, clip)


def test_weights_status_cli_lists_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert main(["weights", "status"]) == 1
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("inception_fid"))
    path = tmp_path / "hub" / "checkpoints" / weights.WEIGHTS["inception_fid"].filename
    assert "NO" in line and str(path) in line
    assert "lpips_alex_lin" in out
    assert main(["weights", "download", "no_such_metric"]) == 2
    assert "unknown weight file or metric" in capsys.readouterr().err


def test_patch_grid_is_hifics() -> None:
    assert len(patch_origins(1080, 1920)) == 7 * 4 + 7 * 3
    assert patch_origins(256, 512, shifted=True) == [(0, 0), (0, 256)]
    assert patch_origins(384, 512) == [(0, 0), (0, 256), (128, 128)]
    assert len(patch_origins(192, 320)) == 0


@pytest.mark.parametrize("name", ["lpips_alex", "lpips_vgg", "dists"])
def test_frame_metrics_zero_on_identical_and_grow_with_distortion(
    torch_home: Path, tmp_path: Path, name: str
) -> None:
    fmt = VideoFormat(96, 64)
    ref, mild, strong = _clips(tmp_path, fmt, 3, (4.0, 30.0))
    metric = create_metric(name, {"batch_size": "2"})
    assert metric.available(), metric.available().reason
    assert not metric.higher_is_better and metric.input == "rgb"
    same = metric.evaluate(ref, ref)
    assert same.shape == (3,)
    np.testing.assert_allclose(same, 0.0, atol=1e-5)
    low, high = metric.evaluate(ref, mild), metric.evaluate(ref, strong)
    assert np.all(low > 1e-4) and np.all(high > low)


def test_fid_kid_on_patches_over_a_dataset(torch_home: Path, tmp_path: Path) -> None:
    fmt = VideoFormat(256, 256)  # one patch a frame keeps the CPU cost of Inception low
    fid, kid = create_metric("fid", {"batch_size": "4"}), create_metric("kid")
    assert fid.fits(fmt) and not fid.fits(VideoFormat(320, 192))
    seqs = [_clips(tmp_path, fmt, 1, (8.0, 40.0), seed=s) for s in (0, 1)]
    feats = {k: [fid.features(seq[0], seq[k]) for seq in seqs] for k in (0, 1, 2)}
    assert feats[0][0]["ref"].shape == (1, 2048) and feats[2][1]["dist"].shape == (1, 2048)
    np.testing.assert_array_equal(feats[0][0]["ref"], feats[0][0]["dist"])
    assert np.abs(feats[0][0]["ref"] - feats[2][0]["dist"]).max() > 0
    values = [fid.aggregate(feats[k]) for k in (0, 1, 2)]
    assert abs(values[0]) < 1e-6 * values[2] and 0 < values[1] < values[2]
    kids = [kid.aggregate(feats[k]) for k in (0, 1, 2)]
    assert abs(kids[0]) < kids[1] < kids[2]
    with pytest.raises(UnsupportedInputError, match="256x256"):
        fid.features(*_clips(tmp_path, VideoFormat(320, 192), 1, (1.0,)))


@pytest.mark.parametrize(("n", "m", "d"), [(30, 40, 64), (300, 200, 64)])
def test_frechet_distance_matches_torch_fidelity(n: int, m: int, d: int) -> None:
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    rng = np.random.default_rng(0)
    x, y = rng.random((n, d)), rng.random((m, d)) ** 1.5
    stats = [fid_features_to_statistics(torch.from_numpy(a)) for a in (x, y)]
    want = fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]
    assert frechet_distance(x, y) == pytest.approx(want, rel=1e-6)
    assert abs(frechet_distance(x, x)) < 1e-9


def test_auto_device_is_cpu_without_cuda() -> None:
    from codecbench.device import choose_device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert choose_device().type == expected
    if not torch.cuda.is_available():
        with pytest.raises(Exception, match="CUDA"):
            choose_device("cuda", require=True)
    assert choose_device("cuda:1").type == "cuda"  # parsed only, unless required
    with pytest.raises(Exception, match="not a torch device"):
        choose_device("tpu!", "lpips_alex")
