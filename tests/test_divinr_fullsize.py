"""The real SVD-XT UNet, checked without its weights: one encode step and one decode through the
codec's own code path (DivInrModule, fit_clip, bitstream, load_decoder, generate) on a random-
initialised UNet of the published configuration, at 2 frames of 8x8 latents (64x64 pixels).

It covers what the tiny backbone cannot: LoRA injection into SVD-XT's spatial and temporal
transformer blocks, ``added_time_ids`` into its 3 x 256 -> 768 projection, the 1024-wide context,
and the 4 + 4 channel concatenation. The encode step runs as a GPU encode does (bf16-mixed: frozen
weights cast to bfloat16, INR and LoRA float32; gradient checkpointing on), the decode in float32.

Cost (measured on 2 shared CPU cores): ~11 s to build the 1.52 B-parameter UNet once per module,
~20 s encode step, ~7 s decode; peak RSS 10.1 GiB (6.1 GB float32 weights, shared by the encoder's
and the decoder's module, plus their 3 GB bfloat16 copies during the encode step).
"""

from __future__ import annotations

import inspect
import resource
import time
from pathlib import Path

import pytest
import torch
from codecbench_divinr import bitstream
from codecbench_divinr.codec import export_payload, load_decoder
from codecbench_divinr.config import DivInrConfig, InrSize
from codecbench_divinr.encoder import fit_clip
from codecbench_divinr.fullsize import NAME, REVISION, SVD_XT_UNET, full_size_backbone, install
from codecbench_divinr.lora import lora_modules
from codecbench_divinr.sampler import generate
from diffusers import UNetSpatioTemporalConditionModel
from lightning.pytorch.callbacks import Callback

from tests.test_divinr import make_clip

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]


def test_config_is_diffusers_default_svd_xt() -> None:
    defaults = {
        k: v.default
        for k, v in inspect.signature(UNetSpatioTemporalConditionModel.__init__).parameters.items()
        if k != "self"
    }
    assert {k: v for k, v in SVD_XT_UNET.items() if k != "sample_size"} == {
        k: v for k, v in defaults.items() if k != "sample_size"
    }


@pytest.fixture(scope="module")
def svd_xt() -> dict:
    t0 = time.perf_counter()
    bb = full_size_backbone(seed=0, vae="tiny")
    with install(bb):
        yield {"backbone": bb, "init_s": time.perf_counter() - t0}


class Grads(Callback):
    """Gradient norms of the trained parts after the first backward."""

    def __init__(self) -> None:
        self.norms: dict[str, float] = {}

    def on_after_backward(self, trainer, pl_module) -> None:  # noqa: ANN001
        if self.norms:
            return
        for part, names in (("inr", "inr."), ("lora_A", "lora_A"), ("lora_B", "lora_B")):
            grads = [
                p.grad
                for n, p in pl_module.named_parameters()
                if names in n and p.grad is not None and not n.endswith("log_step")  # weights, not LSQ steps
            ]
            self.norms[part] = float(sum(g.float().square().sum() for g in grads)) ** 0.5
            self.norms[f"{part}_tensors"] = len(grads)


def test_full_size_encode_step_and_decode(svd_xt: dict, tmp_path: Path) -> None:
    bb = svd_xt["backbone"]
    unet = bb.unet
    assert unet.conv_in.in_channels == 8 and unet.conv_out.out_channels == 4 == bb.latent_channels
    assert unet.add_embedding.linear_1.in_features == 768 == 3 * bb.time_embed_dim
    assert bb.context_dim == 1024 and bb.window == 25
    params = sum(p.numel() for p in unet.parameters())
    assert 1.45e9 < params < 1.6e9, params

    clip = make_clip(tmp_path / "clip.yuv", w=64, h=64, n=2)
    cfg = DivInrConfig(
        backbone=NAME,
        revision=REVISION,
        inr=InrSize(freqs=4, stem=8, channels=(4, 4)),
        steps=1,
        inference_steps=1,
        adapters="per_video",
        lam=1.0,
    )
    grads = Grads()
    t0 = time.perf_counter()
    gpu_like = {"precision": "bf16-mixed", "gradient_checkpointing": "on"}  # what a GPU encode runs
    module = fit_clip(
        clip,
        cfg,
        tmp_path / "work",
        progress=False,
        callbacks=[grads],
        checkpoint_every=1,
        trainer_options=gpu_like,
    )
    encode_s = time.perf_counter() - t0
    assert cfg.window == 25 and module.inr.latent_hw == (8, 8)
    assert module.context.shape == (1, 1, 1024)
    names = [n for n, _ in lora_modules(module.unet)]
    assert any("temporal_transformer_blocks" in n for n in names)
    assert any(".transformer_blocks." in n and "attn2.to_k" in n for n in names)  # cross-attention from 1024
    # One step of the joint loss reached the INR and the LoRA (B starts at zero, so A's gradient is zero).
    assert grads.norms["inr"] > 0 and grads.norms["lora_B"] > 0, grads.norms
    assert grads.norms["lora_B_tensors"] == len(names) // 2

    path = tmp_path / "clip.dvir"
    size = bitstream.write(path, export_payload(module, clip))
    del module
    t0 = time.perf_counter()
    decoder, payload = load_decoder(path)
    assert payload.config["backbone"] == NAME and decoder.unet.config.num_frames == 25
    rgb = list(generate(decoder, 2, 1, cfg.seed, cfg.window))
    decode_s = time.perf_counter() - t0
    assert len(rgb) == 1 and rgb[0].shape == (2, 3, 64, 64) and torch.isfinite(rgb[0]).all()
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"\nsvd-xt random: {params / 1e9:.2f} B parameters, init {svd_xt['init_s']:.1f} s, "
        f"encode step {encode_s:.1f} s, decode {decode_s:.1f} s, {size} bytes, "
        f"peak RSS {peak_gib:.1f} GiB"
    )
