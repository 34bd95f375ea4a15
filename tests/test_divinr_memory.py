"""DiV-INR memory and precision on CPU (tiny backbone): chunked VAE decoding, the header's
decode_chunk, gradient checkpointing, and the half-precision path a GPU takes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from codecbench_divinr import bitstream, checkpointing
from codecbench_divinr.backbone import tiny_backbone
from codecbench_divinr.config import DivInrConfig
from codecbench_divinr.encoder import fit_clip
from codecbench_divinr.fullsize import SVD_VAE
from codecbench_divinr.module import DivInrModule
from codecbench_divinr.sampler import (
    cast_frozen,
    decode_chunk_for,
    decode_latents,
    generate,
    half_dtype,
    restore_frozen,
    sample_window,
)
from lightning.pytorch.callbacks import Callback

from codecbench.registry import create_codec
from tests.test_divinr import FAST, make_clip

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def module() -> DivInrModule:
    return DivInrModule(DivInrConfig(backbone="tiny", adapters="per_video"), (8, 8), mode="encode").eval()


def test_chunked_decode_is_each_chunk_decoded_as_a_window(module: DivInrModule) -> None:
    lat = torch.randn(6, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    whole = decode_latents(module, lat, 0)
    # No chunk, or a chunk of at least the window: one call, the bytes of every earlier decode.
    for chunk in (6, 7, 100):
        assert torch.equal(decode_latents(module, lat, chunk), whole)
    assert module.config.decode_chunk == 0 and torch.equal(decode_latents(module, lat), whole)
    chunked = decode_latents(module, lat, 4)
    assert chunked.shape == whole.shape == (6, 3, 64, 64)
    assert torch.equal(
        chunked, torch.cat([decode_latents(module, lat[:4], 0), decode_latents(module, lat[4:], 0)])
    )
    # The temporal decoder mixes the frames of a call (temporal convolutions, group norms over time):
    # every frame changes, far beyond float rounding. So the chunk is part of the bitstream (header).
    per_frame = (chunked - whole).abs().flatten(1).max(1).values
    assert bool((per_frame > 1e-3).all()), per_frame


def test_decode_chunk_for_follows_the_budget() -> None:
    """1080p through the SVD VAE (128 channels at full resolution) and a 1.5 B-parameter backbone."""
    fake = SimpleNamespace(
        vae=SimpleNamespace(config=SimpleNamespace(block_out_channels=SVD_VAE["block_out_channels"])),
        parameters=lambda: iter([torch.empty(1_525_000_000, device="meta")]),
    )
    chunks = {gb: decode_chunk_for(fake, gb, 1920, 1080, 25) for gb in (8, 24, 40, 80, 1000)}
    assert chunks[8] == 1 and 1 <= chunks[24] < chunks[40] < chunks[80] < 25 and chunks[1000] == 0, chunks
    assert decode_chunk_for(fake, 0, 1920, 1080, 25) == 0  # no budget: the whole window
    assert decode_chunk_for(fake, 24, 1024, 576, 25) > chunks[24]  # SVD's own size decodes in bigger chunks
    # The tiny backbone at the sample size decodes whole windows: its bitstreams keep decoding as before.
    tiny = DivInrModule(DivInrConfig(backbone="tiny"), (32, 48), mode="encode")
    assert decode_chunk_for(tiny, 24.0, 384, 256, 8) == 0


def test_old_headers_decode_whole_windows() -> None:
    d = DivInrConfig(backbone="tiny").to_dict()
    del d["decode_chunk"]
    assert DivInrConfig.from_dict(d).decode_chunk == 0


def test_header_decode_chunk_decides_the_frames(tmp_path: Path) -> None:
    """The encode writes decode_chunk; the decoder uses it whatever its own memory options say."""
    clip = make_clip(tmp_path / "clip.yuv", n=6)
    opts = {**FAST, "window": "6"}
    paths = {}
    for chunk in ("0", "4"):
        codec = create_codec("divinr", {**opts, "decode_chunk": chunk})
        paths[chunk] = codec.encode(clip, "xs", tmp_path / f"w{chunk}")
        assert bitstream.read(paths[chunk]).config["decode_chunk"] == int(chunk)
    # memory_gb picks it when decode_chunk is unset (here: the whole window of a 64x64 clip).
    auto = create_codec("divinr", opts).encode(clip, "xs", tmp_path / "auto")
    assert bitstream.read(auto).config["decode_chunk"] == 0

    def frames(path: Path, **decoder_opts: str) -> np.ndarray:
        codec = create_codec("divinr", {**opts, **decoder_opts})
        return np.stack([f.y for f in codec.decode(path, tmp_path)])

    chunked = frames(paths["4"])
    assert np.array_equal(chunked, frames(paths["4"], memory_gb="0.001", decode_chunk="1"))
    assert not np.array_equal(chunked, frames(paths["0"]))  # same INR, other chunk: other frames
    assert np.array_equal(frames(paths["0"]), frames(auto))


class Watch(Callback):
    """Records, at the first training batch, whether the UNet checkpoints and its weights' dtypes."""

    def __init__(self) -> None:
        self.seen: dict = {}

    def on_train_batch_start(self, trainer, pl_module, *args) -> None:  # noqa: ANN001, ANN002
        if not self.seen:
            named = dict(pl_module.unet.named_parameters())
            self.seen = {
                "checkpointing": pl_module.unet.is_gradient_checkpointing,
                "frozen": {p.dtype for n, p in named.items() if "lora_" not in n},
                "vae": {p.dtype for p in pl_module.vae.parameters()},
                "lora": {p.dtype for n, p in named.items() if "lora_" in n},
                "inr": {p.dtype for p in pl_module.inr.parameters()},
            }


@pytest.mark.parametrize(
    ("options", "checkpointing"),
    [({}, False), ({"gradient_checkpointing": "on"}, True), ({"gradient_checkpointing": "off"}, False)],
)
def test_gradient_checkpointing_where_asked(tmp_path: Path, options: dict, checkpointing: bool) -> None:
    """auto: on a GPU only (this CPU: off); on: forced. The returned module is left as it was."""
    clip = make_clip(tmp_path / "clip.yuv", n=4)
    cfg = DivInrConfig(backbone="tiny", steps=1, inference_steps=1)
    watch = Watch()
    module = fit_clip(
        clip, cfg, tmp_path / "w", 4, progress=False, callbacks=[watch], trainer_options=options
    )
    assert watch.seen["checkpointing"] is checkpointing
    assert watch.seen["frozen"] == {torch.float32}  # CPU, 32-true: nothing cast
    assert not module.unet.is_gradient_checkpointing


def test_checkpointing_gives_the_same_loss_and_gradients(module: DivInrModule) -> None:
    """Same loss and gradients (INR and LoRA) with and without; with it, blocks run twice (recomputed)."""
    gen = torch.Generator().manual_seed(1)
    batch = {"latents": torch.randn(1, 4, 4, 8, 8, generator=gen), "t": torch.linspace(0, 1, 4)[None]}
    trained = {n: p for n, p in module.named_parameters() if p.requires_grad}
    resnet = module.unet.down_blocks[0].resnets[0]
    calls = []
    # A pre-hook: a checkpoint's recompute stops early, before forward hooks would run.
    hook = resnet.register_forward_pre_hook(lambda *a: calls.append(1))
    results = []
    try:
        for on in (False, True):
            if on:
                assert checkpointing.enable(module.unet) > 0  # the spatio-temporal transformers too
            assert module.unet.is_gradient_checkpointing is on
            assert (checkpointing.wrapped(module.unet) > 0) is on
            module.zero_grad()
            calls.clear()
            torch.manual_seed(3)
            loss = module.losses(batch)["loss"]
            loss.backward()
            results.append((loss.detach(), {n: p.grad.clone() for n, p in trained.items()}, len(calls)))
    finally:
        hook.remove()
        checkpointing.disable(module.unet)
        module.zero_grad()
    (l0, g0, n0), (l1, g1, n1) = results
    assert n0 == 1 and n1 == 2
    assert torch.equal(l0, l1)
    for part in ("inr.", "lora_B"):  # gradients reach the INR and the per-video LoRA
        assert any(g.abs().sum() > 0 for n, g in g0.items() if part in n), part
    for n, g in g0.items():
        torch.testing.assert_close(g1[n], g, rtol=1e-5, atol=1e-8, msg=n)


def test_temporal_blocks_are_checkpointed_too(module: DivInrModule) -> None:
    """diffusers' checkpointing leaves the temporal transformer blocks out; the codec's keeps less."""
    gen = torch.Generator().manual_seed(1)
    batch = {"latents": torch.randn(1, 4, 4, 8, 8, generator=gen), "t": torch.linspace(0, 1, 4)[None]}

    def kept(setup: Callable[[], object]) -> int:
        """Bytes saved for the backward pass outside any checkpoint."""
        total = [0]

        def pack(t: torch.Tensor) -> torch.Tensor:
            total[0] += t.numel() * t.element_size()
            return t

        setup()
        try:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                torch.manual_seed(3)
                module.losses(batch)["loss"].backward()
        finally:
            checkpointing.disable(module.unet)
            module.zero_grad()
        return total[0]

    off = kept(lambda: None)
    diffusers_only = kept(module.unet.enable_gradient_checkpointing)
    ours = kept(lambda: checkpointing.enable(module.unet))
    assert ours < diffusers_only < off, (ours, diffusers_only, off)
    assert checkpointing.wrapped(module.unet) == 0 and not module.unet.is_gradient_checkpointing


def test_half_precision_encode_path_on_cpu(tmp_path: Path) -> None:
    """bf16-mixed (what a GPU gets by default) runs the frozen backbone in bfloat16 with float32
    INR/LoRA masters, and hands back the original float32 weights."""
    clip = make_clip(tmp_path / "clip.yuv", n=4)
    cfg = DivInrConfig(backbone="tiny", steps=2, inference_steps=1, adapters="per_video")
    watch = Watch()
    options = {"precision": "bf16-mixed", "gradient_checkpointing": "on"}
    module = fit_clip(
        clip, cfg, tmp_path / "w", 4, progress=False, callbacks=[watch], trainer_options=options
    )
    s = watch.seen
    assert s["frozen"] == s["vae"] == {torch.bfloat16} and s["lora"] == s["inr"] == {torch.float32}
    assert s["checkpointing"]
    fresh = tiny_backbone(0)
    weights = dict(module.unet.named_parameters())
    for n, p in fresh.unet.named_parameters():
        name = (
            n
            if n in weights
            else n.replace(".weight", ".base_layer.weight").replace(".bias", ".base_layer.bias")
        )
        assert torch.equal(weights[name], p), n
    assert all(p.dtype == torch.float32 for p in module.vae.parameters())


def test_half_precision_decode_path_on_cpu(module: DivInrModule) -> None:
    """The GPU decode's code path (bf16 weights, autocast, chunked VAE) run on the CPU: it works, it
    stays near the float32 decode, and CPU decodes proper never take it."""
    assert (
        half_dtype(torch.device("cpu")) == torch.float32 and half_dtype(torch.device("cuda")) != torch.float32
    )
    cond = torch.randn(4, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    lat32, _ = sample_window(module, cond, 2, 0)
    rgb32 = decode_latents(module, lat32, 2)
    saved = cast_frozen(module, torch.bfloat16)
    try:
        assert saved and all(p.dtype == torch.bfloat16 for p in module.vae.parameters())
        lat16, _ = sample_window(module, cond, 2, 0)
        rgb16 = decode_latents(module, lat16, 2)
    finally:
        restore_frozen(saved)
    assert lat16.dtype == rgb16.dtype == torch.float32
    assert (lat16 - lat32).abs().max() < 0.1 * lat32.abs().max()
    assert (rgb16 - rgb32).abs().mean() < 0.05
    before = {n: p.clone() for n, p in module.unet.named_parameters()}
    list(generate(module, 2, 1, 0, 2))  # CPU: no cast
    assert all(torch.equal(p, before[n]) for n, p in module.unet.named_parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_defaults(tmp_path: Path) -> None:
    """On a GPU, by default: bf16 frozen weights, float32 INR/LoRA, checkpointing; decode in bf16."""
    clip = make_clip(tmp_path / "clip.yuv", n=4)
    cfg = DivInrConfig(backbone="tiny", steps=2, inference_steps=1, adapters="per_video")
    watch = Watch()
    module = fit_clip(
        clip, cfg, tmp_path / "w", 4, progress=False, callbacks=[watch], device=torch.device("cuda")
    )
    s = watch.seen
    assert (
        s["checkpointing"]
        and s["frozen"] == {half_dtype(torch.device("cuda"))}
        and s["lora"] == {torch.float32}
    )
    assert {p.dtype for p in module.unet.parameters()} == {torch.float32} and module.device.type == "cpu"
    module.to("cuda")
    rgb = list(generate(module, 4, 1, 0, 4))
    assert {p.dtype for n, p in module.unet.named_parameters() if "lora_" not in n} == {
        half_dtype(module.device)
    }
    assert rgb[0].dtype == torch.float32 and torch.isfinite(rgb[0]).all()
