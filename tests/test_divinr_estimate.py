"""bench/estimate_divinr_1080p.py: its counts on the meta device are those of real tensors, the codec's
checkpointing (nested: whole transformers around diffusers' checkpoints) is what it runs and keeps less
than diffusers' alone, its window count is the codec's, and its 1080p attention FLOPs are the closed
form for SVD-XT's shapes."""

from __future__ import annotations

import csv
import importlib.util
import inspect
import json
import sys
from pathlib import Path

import pytest
import torch
from codecbench_divinr import checkpointing, sampler
from codecbench_divinr.backbone import TINY_UNET
from codecbench_divinr.config import InrSize
from codecbench_divinr.encoder import latent_hw
from codecbench_divinr.fullsize import SVD_XT_UNET
from codecbench_divinr.inr import NervInr
from diffusers.models.transformers.transformer_temporal import TransformerSpatioTemporalModel

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "estimate_divinr_1080p.py"
pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def est():
    spec = importlib.util.spec_from_file_location("estimate_divinr_1080p", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop(spec.name, None)


def test_window_count(est) -> None:
    assert est.n_windows(600, 25, 2) == 26
    assert est.n_windows(600, 25, 0) == 24
    assert est.n_windows(600, 25, 4) == 29
    assert est.n_windows(16, 8, 0) == 2
    assert est.n_windows(8, 8, 2) == 1
    assert est.n_windows(5, 8, 7) == 1
    with pytest.raises(ValueError):
        est.n_windows(600, 25, 25)
    if "overlap" in inspect.signature(sampler.windows).parameters:  # the codec's own windows agree
        for frames, window, overlap in [(600, 25, 2), (600, 25, 4), (300, 25, 4), (17, 8, 3), (9, 8, 0)]:
            assert len(sampler.windows(frames, window, overlap)) == est.n_windows(frames, window, overlap)


def test_live_memory_follows_storages(est) -> None:
    live = est.LiveMemory()
    with live:
        a = torch.empty(1000, device="meta")  # 4000 bytes
        b = a.view(10, 100) * 2  # 8000 (the view shares a's storage)
        del a  # 4000
        c = b + 1  # 8000
        del b  # 4000
        d = c[:1]  # a view: nothing new
    assert live.peak == 8000 and live.live == 4000 and d.numel() == 100


def _tiny(est, device: str):
    unet = est.build_unet(TINY_UNET, device, train_lora=True)
    with torch.device(device):
        inr = NervInr(InrSize(), 4, (8, 8))
    return unet, inr


def test_meta_counts_are_real_counts(est) -> None:
    """The same functions on meta and on real CPU tensors (tiny UNet): the same FLOPs and bytes, for
    no checkpointing, diffusers' and the codec's; the codec's keeps least and recomputes most."""
    got = {}
    for device in ("meta", "cpu"):
        unet, inr = _tiny(est, device)
        with est.gpu_like(attention="math"):  # flash attention has no CPU kernel; math runs on both
            got[device] = {
                m: est.measure(est.encode_step, unet, inr, 4, (8, 8), m) for m in est.CHECKPOINTING
            }
        assert checkpointing.wrapped(unet) == 0 and not unet.is_gradient_checkpointing  # undone
    assert got["meta"] == got["cpu"]
    off, diffusers, codec = (got["meta"][m] for m in ("off", "diffusers", "codec"))
    assert off["flops"] > 0 and off["attention_flops"] == 0  # the math kernel counts as matmuls
    # checkpointing recomputes part of the forward for less memory; the codec's more of it, for less
    assert codec["peak_bytes"] < diffusers["peak_bytes"] < off["peak_bytes"]
    assert codec["flops"] > diffusers["flops"] > off["flops"]


def test_codec_checkpointing_is_nested(est) -> None:
    """The codec mode runs checkpointing.enable (every spatio-temporal transformer wrapped), and the
    probe sees diffusers' spatial-block checkpoints inside the transformers' and models a lower peak."""
    unet, inr = _tiny(est, "meta")
    transformers = sum(isinstance(m, TransformerSpatioTemporalModel) for m in unet.modules())
    assert transformers > 0
    seen = {}

    def during() -> None:
        seen["wrapped"] = checkpointing.wrapped(unet)
        seen["diffusers"] = unet.is_gradient_checkpointing

    probes = {}
    with est.gpu_like(attention="math"):
        est.encode_step(unet, inr, 4, (8, 8), "codec", on_forward_done=during)
        for mode in ("codec", "diffusers"):
            probes[mode] = est.CheckpointUnits(est.storage_ids(unet, inr))
            est.encode_step(unet, inr, 4, (8, 8), mode, probes[mode].root.saved, probe=probes[mode])
    assert seen == {"wrapped": transformers, "diffusers": True}
    assert checkpointing.checkpoint is torch.utils.checkpoint.checkpoint  # the probe's patch undone
    codec, diffusers = probes["codec"].root, probes["diffusers"].root
    outer = [u for u in codec.children if u.name == "TransformerSpatioTemporalModel"]
    assert len(outer) == transformers and all(u.children for u in outer)  # nested units inside
    assert sum(1 for _ in codec.walk()) == sum(1 for _ in diffusers.walk()) + transformers
    assert not any(u.children for u in diffusers.children)
    assert probes["codec"].model_peak() < probes["diffusers"].model_peak()


def test_conv_flops_are_linear_in_frames(est) -> None:
    unet, _ = _tiny(est, "meta")
    with est.gpu_like():
        two, four = (est.measure(est.unet_forward, unet, t, (16, 16), memory=False) for t in (2, 4))
    assert four["conv_flops"] == 2 * two["conv_flops"] > 0
    # the rest nearly: temporal attention grows faster, per-clip embeddings not at all
    assert 1.9 * two["flops"] < four["flops"] < 2.1 * two["flops"]
    # flash routing: the same forward FLOPs as the math kernel, now counted as attention
    with est.gpu_like(attention="math"):
        math_four = est.measure(est.unet_forward, unet, 4, (16, 16), memory=False)
    assert four["flops"] == math_four["flops"] and four["attention_flops"] > 0


def test_svd_xt_attention_flops_at_1080p(est) -> None:
    """SVD-XT at 135x240 latents: the UNet halves to 68x120, 34x60, 17x30 (no padding), and the
    counted attention FLOPs are 4 * queries * keys * channels summed over its transformers."""
    h, w = latent_hw(1920, 1080)
    assert (h, w) == (135, 240)
    frames = 25
    sizes = [(135, 240), (68, 120), (34, 60), (17, 30)]
    # (level, transformers): down 0-2 have 2 each, the mid block 1 at the bottom, up 1-3 have 3 each
    transformers = {0: 2 + 3, 1: 2 + 3, 2: 2 + 3, 3: 1}
    expected = 0
    for level, count in transformers.items():
        n = sizes[level][0] * sizes[level][1]
        c = SVD_XT_UNET["block_out_channels"][level]
        spatial = 4 * frames * n * (n + 1) * c  # self-attention over n tokens + cross-attention to 1
        temporal = 4 * n * frames * (frames + 1) * c  # self over the frames + cross to 1
        expected += count * (spatial + temporal)
    unet = est.build_unet(SVD_XT_UNET)
    with est.gpu_like():
        got = est.measure(est.unet_forward, unet, frames, (h, w), memory=False)
    assert got["attention_flops"] == expected
    assert 400e12 < got["flops"] < 440e12


def test_cli_tiny(est, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "t.csv"
    argv = "--backbone tiny --device cpu --attention math --width 64 --height 64 --frames 10 --window 4"
    rc = est.main([*argv.split(), "--overlap", "1", "--steps-per-window", "3", "--out", str(out), "--json"])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    with out.open() as fh:
        table = list(csv.DictReader(fh))
    assert [(r["quantity"], float(r["value"])) for r in table] == [(r["quantity"], r["value"]) for r in rows]
    assert {r["frames"] for r in table} == {"10"} and {r["overlap"] for r in table} == {"1"}
    v = {(r["scope"], r["quantity"]): r["value"] for r in rows}
    assert v["sequence", "windows"] == 3 and v["sequence", "joint_steps"] == 9
    encode = 9 * v["encode step", "step_flops_codec_ckpt"] + 10 * v["vae", "encode_flops_per_frame"]
    assert v["sequence", "encode_flops"] == pytest.approx(encode)
    decode = 3 * 8 * v["unet forward", "flops"] + 10 * v["vae", "decode_flops_per_frame"]
    assert v["sequence", "decode_flops"] == pytest.approx(decode)
    assert v["memory", "encode_peak"] > v["memory", "weights"] > 0
