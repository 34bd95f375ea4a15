"""FLOPs, memory and time of a DiV-INR encode and decode of one sequence on SVD-XT, without a GPU.

Nothing here needs the SVD weights or a GPU: the SVD-XT UNet and VAE (``fullsize.SVD_XT_UNET``,
``SVD_VAE``) are built on PyTorch's **meta** device (shapes and dtypes, no storage), so a 1080p,
25-frame window costs no memory and seconds of time. On that device:

* FLOPs are **counted** by ``torch.utils.flop_counter.FlopCounterMode`` (matrix products,
  convolutions, attention; element-wise ops are not counted), forward and backward separately; the
  backward of the encode is run, not assumed, including the forward that gradient checkpointing
  recomputes.
* Memory is **simulated**: a dispatch mode adds the bytes of every tensor storage an op creates and
  subtracts them when Python frees the storage, giving the peak an ideal allocator would see (no
  CUDA context, cuDNN workspaces, fragmentation or caching-allocator slack). Tensors saved for
  backward are also summed with ``torch.autograd.graph.saved_tensors_hooks``.
* The GPU path of the codec is mimicked: frozen weights in bfloat16, CUDA autocast's bf16-mixed
  policy (group and layer norms in float32, convolutions, linears and attention in bfloat16),
  attention through the flash-attention kernel (O(N) saved memory, as on an H100/H200), the INR
  in float32, and the codec's gradient checkpointing (``codecbench_divinr.checkpointing.enable``:
  diffusers' checkpointing plus every spatio-temporal transformer checkpointed whole, so nested
  checkpoints; run for real, not modelled). diffusers-only checkpointing and none are variants.

Time is FLOPs / (peak TFLOP/s x MFU): an assumption, printed with the figures.

    python bench/estimate_divinr_1080p.py [--width 1920 --height 1080 --frames 600] [--out t.csv] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import json
import math
import sys
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F
from codecbench_divinr import checkpointing as codec_ckpt
from codecbench_divinr import lora
from codecbench_divinr.backbone import TINY_UNET, TINY_VAE
from codecbench_divinr.config import InrSize
from codecbench_divinr.encoder import VAE_SCALE, latent_hw
from codecbench_divinr.fullsize import SVD_VAE, SVD_XT_UNET
from codecbench_divinr.inr import NervInr, frame_times
from codecbench_divinr.module import P_MEAN, P_STD, edm_denoise
from codecbench_divinr.sampler import HEADROOM_GB, VAE_PEAK_ACTIVATIONS, decode_chunk_for
from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
from diffusers.utils import logging as diffusers_logging
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map_only
from torch.utils.flop_counter import FlopCounterMode

GiB = 2**30
#: Dense bf16 peak TFLOP/s (no sparsity) of common GPUs, for --gpu.
PEAK_TFLOPS = {"h200": 989.0, "h100": 989.0, "a100": 312.0}
#: Frames per VAE-encode call of the encoder (``DivInrModule.encode_frames``).
VAE_ENCODE_FRAMES = 8
#: (UNet, VAE) configurations: SVD-XT (the estimate) and the plugin's tiny one (quick checks, tests).
BACKBONES = {"svd-xt": (SVD_XT_UNET, SVD_VAE), "tiny": (TINY_UNET, TINY_VAE)}
#: Checkpointing of an encode step: the codec's (diffusers' + whole spatio-temporal transformers,
#: ``codecbench_divinr.checkpointing.enable``), diffusers' ``enable_gradient_checkpointing`` only, none.
CHECKPOINTING = ("codec", "diffusers", "off")


# ---- windows -----------------------------------------------------------------------------------
def n_windows(frames: int, window: int, overlap: int = 0) -> int:
    """Windows of ``window`` frames advancing by ``window - overlap``, the last aligned to the clip's end.

    The count of the codec's ``sampler.windows`` (which spreads their starts evenly).
    """
    if frames < 1 or window < 1:
        raise ValueError(f"{frames} frames in windows of {window}")
    if frames <= window:
        return 1
    if not 0 <= overlap < window:
        raise ValueError(f"overlap {overlap} must be in 0..{window - 1} for windows of {window} frames")
    return math.ceil((frames - overlap) / (window - overlap))


def codec_overlap() -> int:
    """The codec's default window overlap for an SVD checkpoint (0 where the codec has no overlap)."""
    try:
        from codecbench_divinr.backbone import default_overlap
    except ImportError:  # a codec from before overlapping windows
        return 0
    return int(default_overlap("stabilityai/stable-video-diffusion-img2vid-xt"))


def inr_size(rate_point: str, width: int, height: int, frames: int) -> InrSize:
    """The INR the codec fits for ``rate_point`` on a clip of this shape (the rate ladder sizes it)."""
    try:
        from codecbench_divinr.ladder import inr_for, parse_rate_point
    except ImportError:  # a codec whose rate points are fixed INR sizes
        from codecbench_divinr.codec import parse_rate_point as fixed

        return fixed(rate_point)[0]
    return inr_for(parse_rate_point(rate_point), width, height, frames)


# ---- models ------------------------------------------------------------------------------------
def build_unet(
    config: dict | None = None,
    device: str | torch.device = "meta",
    dtype: torch.dtype = torch.bfloat16,
    lora_rank: int = 4,
    lora_convs: bool = False,
    train_lora: bool = False,
    seed: int = 0,
) -> UNetSpatioTemporalConditionModel:
    """The UNet (default: SVD-XT) with the codec's LoRA adapters, frozen weights in ``dtype``.

    LoRA trains (``requires_grad``) only with per-video adapters (``train_lora``), as in an encode.
    On a real device the weights are random (drawn from ``seed``); on meta they have no values.
    """
    with torch.random.fork_rng(devices=[]), torch.device(device):
        torch.manual_seed(seed)
        unet = UNetSpatioTemporalConditionModel(**(config or SVD_XT_UNET))
        if lora_rank:
            lora.inject(unet, lora_rank, lora_convs, seed)
    # .to(device) too: diffusers' AlphaBlender makes its mix factor with torch.Tensor([..]), on the CPU
    unet.to(device=device, dtype=dtype).requires_grad_(False)
    if train_lora:
        for p in lora.lora_parameters(unet):
            p.requires_grad_(True)
    return unet.eval()


def build_vae(
    config: dict | None = None, device: str | torch.device = "meta", dtype: torch.dtype = torch.bfloat16
) -> AutoencoderKLTemporalDecoder:
    """The temporal VAE (default: SVD's), frozen, weights in ``dtype``."""
    with torch.random.fork_rng(devices=[]), torch.device(device):
        torch.manual_seed(0)
        vae = AutoencoderKLTemporalDecoder(**(config or SVD_VAE))
    return vae.to(device=device, dtype=dtype).requires_grad_(False).eval()


# ---- the GPU's precision and attention, on any device -------------------------------------------
def _f32(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.float()


def _flash_sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    """``F.scaled_dot_product_attention`` as the CUDA flash kernel (saves O(N): output + logsumexp)."""
    if attn_mask is not None or enable_gqa:
        return _SDPA(q, k, v, attn_mask, dropout_p, is_causal, scale=scale, enable_gqa=enable_gqa)
    return torch.ops.aten._scaled_dot_product_flash_attention(q, k, v, dropout_p, is_causal, scale=scale)[0]


_SDPA = F.scaled_dot_product_attention


@contextlib.contextmanager
def gpu_like(autocast: bool = True, attention: str = "flash") -> Iterator[None]:
    """Run models as the codec's bf16-mixed GPU path does, on the meta device (or a CPU).

    CUDA autocast's policy for the ops of SVD's UNet and VAE, which real autocast cannot apply off
    CUDA: convolutions and linears compute in the weights' dtype (inputs cast down) and, with
    ``autocast``, group and layer norms in float32 (inputs cast up; without it they stay in the
    inputs' dtype); other ops follow their inputs.
    ``attention="flash"`` routes ``F.scaled_dot_product_attention`` to the flash-attention op (what
    an H100/H200 runs for bf16, head dim 64: forward and backward FLOPs and saved tensors as there;
    it exists on meta and CUDA only); ``"math"`` forces PyTorch's math kernel (matmuls and a softmax
    that materialise the attention matrix), which runs on any device.
    """
    saved: list[tuple[type, str, Any]] = []

    def patch(owner: Any, name: str, fn: Any) -> None:
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, fn)

    try:
        if autocast:
            patch(
                nn.GroupNorm,
                "forward",
                lambda self, x: F.group_norm(
                    x.float(), self.num_groups, _f32(self.weight), _f32(self.bias), self.eps
                ),
            )
            patch(
                nn.LayerNorm,
                "forward",
                lambda self, x: F.layer_norm(
                    x.float(), self.normalized_shape, _f32(self.weight), _f32(self.bias), self.eps
                ),
            )
        for cls in (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d):
            patch(
                cls,
                "forward",
                lambda self, x, *a, _orig=cls.forward: _orig(self, x.to(self.weight.dtype), *a),
            )
        if attention == "flash":
            patch(F, "scaled_dot_product_attention", _flash_sdpa)
            yield
        elif attention == "math":  # the math kernel everywhere (a CPU would pick its own fused kernel)
            with sdpa_kernel(SDPBackend.MATH):
                yield
        else:
            raise ValueError(f"attention must be flash or math, not {attention!r}")
    finally:
        for owner, name, old in reversed(saved):
            setattr(owner, name, old)


# ---- counting ----------------------------------------------------------------------------------
class LiveMemory(TorchDispatchMode):
    """Peak bytes of the tensor storages alive at once, for the ops run under this mode.

    Every storage an op creates is added once (views and in-place results share it) and removed when
    its last reference goes (a weakref finaliser: PyTorch keeps one Python object per storage).
    Tensors that existed before the mode (weights, inputs made outside) are not counted.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live = self.peak = 0
        self._ids: set[int] = set()

    def _free(self, key: int, nbytes: int) -> None:
        self._ids.discard(key)
        self.live -= nbytes

    def _track(self, t: torch.Tensor) -> None:
        st = t.untyped_storage()
        key = id(st)
        if key in self._ids:
            return
        n = st.nbytes()
        self._ids.add(key)
        self.live += n
        self.peak = max(self.peak, self.live)
        weakref.finalize(st, self._free, key, n)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        tree_map_only(torch.Tensor, self._track, out)
        return out


class SavedBytes:
    """Bytes of the distinct storages saved for backward (``saved_tensors_hooks``), weights excluded."""

    def __init__(self, exclude: set[int] = frozenset()) -> None:
        self.exclude = exclude
        self.storages: dict[int, tuple[torch.UntypedStorage, int]] = {}

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        if id(st) not in self.exclude:
            self.storages[id(st)] = (st, st.nbytes())
        return t

    @property
    def nbytes(self) -> int:
        return sum(n for _, n in self.storages.values())

    def hooks(self) -> contextlib.AbstractContextManager:
        return torch.autograd.graph.saved_tensors_hooks(self.pack, lambda t: t)


def storage_ids(*models: nn.Module) -> set[int]:
    return {id(p.untyped_storage()) for m in models for p in m.parameters()}


class Unit:
    """A checkpointed call as :class:`CheckpointUnits` sees it: what it saves for backward itself (not
    inside nested units), the inputs of the units nested in it (which their checkpoints keep), those units.
    """

    def __init__(self, name: str, exclude: set[int]) -> None:
        self.name = name
        self.saved = SavedBytes(exclude)
        self.child_inputs: dict[int, tuple[torch.UntypedStorage, int]] = {}  # held: ids stay unique
        self.children: list[Unit] = []

    def walk(self) -> Iterator[Unit]:
        yield self
        for c in self.children:
            yield from c.walk()


class CheckpointUnits:
    """A checkpoint function that does not checkpoint but records what checkpointing would keep.

    It stands in for diffusers' ``gradient_checkpointing_func`` (each ``SpatioTemporalResBlock`` and
    spatial ``BasicTransformerBlock`` of SVD's UNet) and, through :meth:`checkpoint`, for
    ``torch.utils.checkpoint.checkpoint`` in ``codecbench_divinr.checkpointing`` (each whole
    ``TransformerSpatioTemporalModel``, which contains diffusers' spatial-block checkpoints: nesting).
    Calls build a tree of :class:`Unit` under :attr:`root` (the step outside any checkpoint); each
    unit's saved tensors are collected by its own ``saved_tensors_hooks`` (the innermost hooks win, so
    a nested unit's saves are its own, not its parent's).
    """

    def __init__(self, exclude: set[int]) -> None:
        self.exclude = exclude
        self.root = Unit("outside", exclude)
        self._stack = [self.root]

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        parent = self._stack[-1]
        for a in (*args, *kwargs.values()):
            if isinstance(a, torch.Tensor):
                st = a.untyped_storage()
                if id(st) not in self.exclude:
                    parent.child_inputs[id(st)] = (st, st.nbytes())
        unit = Unit(type(getattr(fn, "__self__", fn)).__name__, self.exclude)
        parent.children.append(unit)
        self._stack.append(unit)
        try:
            with unit.saved.hooks():
                return fn(*args, **kwargs)
        finally:
            self._stack.pop()

    def checkpoint(
        self, fn: Callable[..., Any], *args: Any, use_reentrant: bool | None = None, **kwargs: Any
    ) -> Any:
        """``torch.utils.checkpoint.checkpoint``'s signature."""
        return self(fn, *args, **kwargs)

    def model_peak(self, unit: Unit | None = None, above: dict[int, int] | None = None) -> int:
        """The first-order peak of a checkpointed backward, nested checkpoints included.

        While a unit's backward runs, alive are: what every enclosing level keeps (its own saves and
        the inputs of the units nested in it) + this unit's own saves (recomputed) + the inputs of its
        nested units; then, one nested unit at a time, the same one level down. Peak = the largest such
        sum along any path from the root; storages counted once along a path.
        """
        unit = unit or self.root
        here = {
            **(above or {}),
            **{k: n for k, (_, n) in (*unit.saved.storages.items(), *unit.child_inputs.items())},
        }
        return max([sum(here.values())] + [self.model_peak(c, here) for c in unit.children])


# ---- the pieces of an encode and a decode --------------------------------------------------------
def _fps_ids(device: torch.device) -> torch.Tensor:
    # DivInrModule.added_time_ids at its defaults: fps 24 -> 23, motion bucket 127, noise aug 0.
    return torch.tensor([[23.0, 127.0, 0.0]], device=device)


@contextlib.contextmanager
def checkpointing_mode(unet: nn.Module, mode: str, probe: CheckpointUnits | None = None) -> Iterator[None]:
    """Checkpointing of ``unet`` as in :data:`CHECKPOINTING`, undone on exit.

    With a ``probe``, its checkpoint functions stand in for torch's (nothing is recomputed, the probe
    records what would be kept): diffusers' ``gradient_checkpointing_func`` and the ``checkpoint``
    that ``codecbench_divinr.checkpointing`` wraps each spatio-temporal transformer in.
    """
    if mode not in CHECKPOINTING:
        raise ValueError(f"checkpointing must be one of {CHECKPOINTING}, not {mode!r}")
    torch_checkpoint = codec_ckpt.checkpoint
    if mode == "codec":
        codec_ckpt.enable(unet)
    elif mode == "diffusers":
        unet.enable_gradient_checkpointing()
    if probe is not None and mode != "off":
        unet.enable_gradient_checkpointing(probe)
        codec_ckpt.checkpoint = probe.checkpoint
    try:
        yield
    finally:
        codec_ckpt.checkpoint = torch_checkpoint
        codec_ckpt.disable(unet)


def encode_step(
    unet: nn.Module,
    inr: nn.Module,
    frames: int,
    hw: tuple[int, int],
    checkpointing: str = "off",
    saved: SavedBytes | None = None,
    on_forward_done: Callable[[], None] | None = None,
    probe: CheckpointUnits | None = None,
) -> None:
    """One optimisation step of the encode on a window of ``frames`` latents (loss and backward).

    As ``DivInrModule.losses``: INR(t) conditions SVD's preconditioned denoiser (``edm_denoise``) on
    noised latents at sigma ~ logN(P_MEAN, P_STD); EDM-weighted MSE + regression of INR(t) on the
    latents; backward into the INR (and LoRA when it trains). The optimiser's update is not run.
    ``checkpointing``: one of :data:`CHECKPOINTING` (torch.utils.checkpoint, non-reentrant, as in the
    codec), with ``probe`` a :class:`CheckpointUnits` that records instead of checkpointing.
    """
    p = next(inr.parameters())
    dev = p.device
    h, w = hw
    with checkpointing_mode(unet, checkpointing, probe):
        lat = torch.randn(1, frames, unet.config.out_channels, h, w, device=dev)
        ctx = torch.zeros(1, 1, unet.config.cross_attention_dim, device=dev)
        with saved.hooks() if saved is not None else contextlib.nullcontext():
            cond = inr(frame_times(frames, dev)).view(1, frames, -1, h, w)
            sigma = (torch.randn(1, device=dev) * P_STD + P_MEAN).exp()
            noisy = lat + sigma.view(-1, 1, 1, 1, 1) * torch.randn_like(lat)
            out = edm_denoise(unet, noisy, sigma, cond, ctx, _fps_ids(dev))
            weight = ((sigma**2 + 1) / sigma**2).view(-1, 1, 1, 1, 1)
            loss = (weight * (out.float() - lat) ** 2).mean() + F.mse_loss(cond, lat)
        if on_forward_done is not None:
            on_forward_done()
        loss.backward()


def inr_only_step(inr: nn.Module, frames: int, hw: tuple[int, int]) -> None:
    """A warm-up step: INR(t) regressed on the latents, no UNet."""
    dev = next(inr.parameters()).device
    lat = torch.randn(frames, inr.head.out_channels, *hw, device=dev)
    F.mse_loss(inr(frame_times(frames, dev)), lat).backward()


@torch.no_grad()
def unet_forward(unet: nn.Module, frames: int, hw: tuple[int, int]) -> None:
    """One Euler step's UNet call of the decoder (``sampler.sample_window``): no gradients."""
    dev = next(unet.parameters()).device
    inp = torch.randn(1, frames, 2 * unet.config.out_channels, *hw, device=dev)
    ctx = torch.zeros(1, 1, unet.config.cross_attention_dim, device=dev)
    unet(inp, torch.tensor([1.0], device=dev), ctx, added_time_ids=_fps_ids(dev))


@torch.no_grad()
def vae_decode(vae: nn.Module, frames: int, hw: tuple[int, int]) -> None:
    """One VAE-decode call of ``frames`` latents (``sampler.decode_latents``, one chunk)."""
    dev = next(vae.parameters()).device
    z = torch.randn(frames, vae.config.latent_channels, *hw, device=dev)
    vae.decode(z, num_frames=frames)


@torch.no_grad()
def vae_encode(vae: nn.Module, frames: int, hw: tuple[int, int]) -> None:
    """One VAE-encode call of ``frames`` RGB frames (``DivInrModule.encode_frames``)."""
    dev = next(vae.parameters()).device
    x = torch.randn(frames, 3, hw[0] * VAE_SCALE, hw[1] * VAE_SCALE, device=dev)
    vae.encode(x).latent_dist.mode()


def op_class(op: Any) -> str:
    """conv, attention or matmul: the class of an op FlopCounterMode counts."""
    name = str(op)
    return "conv" if "convolution" in name else "attention" if "attention" in name else "matmul"


def measure(fn: Callable[..., None], *args: Any, memory: bool = True, **kwargs: Any) -> dict[str, int]:
    """FLOPs (FlopCounterMode; also per :func:`op_class`) and simulated peak bytes (:class:`LiveMemory`).

    Two runs of ``fn``: FlopCounterMode's module tracking holds tensors of its own (with a checkpointed
    module it kept 200 GiB more alive at 1080p), so memory is simulated without it.
    """
    counter = FlopCounterMode(display=False)
    with counter:
        fn(*args, **kwargs)
    out = {"flops": int(counter.get_total_flops()), "peak_bytes": 0}
    for cls in ("conv", "matmul", "attention"):
        out[f"{cls}_flops"] = 0
    for op, n in counter.get_flop_counts().get("Global", {}).items():
        out[f"{op_class(op)}_flops"] += int(n)
    if memory:
        out["peak_bytes"] = peak_bytes(fn, *args, **kwargs)
    return out


def peak_bytes(fn: Callable[..., None], *args: Any, **kwargs: Any) -> int:
    """Simulated peak bytes of the tensors ``fn(*args)`` creates (:class:`LiveMemory`)."""
    gc.collect()
    live = LiveMemory()
    with live:
        fn(*args, **kwargs)
    return live.peak


def step_costs(
    unet: nn.Module, inr: nn.Module, frames: int, hw: tuple[int, int], memory: bool = True
) -> dict[str, int]:
    """FLOPs and memory of one encode step under each of :data:`CHECKPOINTING`.

    Returns forward / backward FLOPs without checkpointing, the saved-for-backward bytes and the
    simulated peak without it; per checkpointing mode ``m`` (codec, diffusers) the FLOPs of a step
    (forward, recomputed forwards, backward: ``step_flops_m``), its simulated peak (``peak_bytes_m``)
    and the checkpointing model's figures (``model_*_m``, :func:`checkpoint_model`).
    """
    out: dict[str, int] = {}
    counter = FlopCounterMode(display=False)
    mark: dict[str, int] = {}
    with counter:
        encode_step(
            unet, inr, frames, hw, "off", None, lambda: mark.setdefault("fwd", counter.get_total_flops())
        )
    out.update(step_fwd_flops=int(mark["fwd"]), step_bwd_flops=int(counter.get_total_flops() - mark["fwd"]))
    saved = SavedBytes(storage_ids(unet, inr))
    with LiveMemory() if memory else contextlib.nullcontext() as live:
        encode_step(unet, inr, frames, hw, "off", saved)
    out.update(saved_bytes=saved.nbytes, peak_bytes_off=live.peak if memory else 0)
    for mode in ("codec", "diffusers"):
        ck = measure(encode_step, unet, inr, frames, hw, mode, memory=memory)
        out.update({f"step_flops_{mode}": ck["flops"], f"peak_bytes_{mode}": ck["peak_bytes"]})
        out.update({f"{k}_{mode}": v for k, v in checkpoint_model(unet, inr, frames, hw, mode).items()})
    return out


def checkpoint_model(
    unet: nn.Module, inr: nn.Module, frames: int, hw: tuple[int, int], mode: str
) -> dict[str, int]:
    """The first-order model of a checkpointed step's activation memory (:meth:`CheckpointUnits.model_peak`).

    Returns the units (all, and those at the top level, outside any other), the bytes saved outside
    every unit, the inputs the top-level units keep, and the modelled peak.
    """
    units = CheckpointUnits(storage_ids(unet, inr))
    encode_step(unet, inr, frames, hw, mode, units.root.saved, probe=units)
    root = units.root
    outside = {k: n for k, (_, n) in root.saved.storages.items()}
    return {
        "model_units": sum(1 for _ in root.walk()) - 1,
        "model_top_units": len(root.children),
        "model_outside_bytes": sum(outside.values()),
        "model_inputs_bytes": sum(n for k, (_, n) in root.child_inputs.items() if k not in outside),
        "model_peak_bytes": units.model_peak(),
    }


# ---- the estimate --------------------------------------------------------------------------------
def estimate(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All figures for ``args``: tidy rows (quantity, value, unit, method) and the setting."""
    t0 = time.perf_counter()
    dev = torch.device(args.device)
    h, w = latent_hw(args.width, args.height)
    win = min(args.window, args.frames)
    n = n_windows(args.frames, win, args.overlap)
    per_video = args.adapters == "per_video"
    size = inr_size(args.rate_point, args.width, args.height, args.frames)
    # frozen weights (UNet, VAE) in bf16 as the GPU path casts them; LoRA stays fp32 there (it is
    # cast to bf16 here only so that the matmuls' dtypes agree; it is ~0.1% of the weights).
    unet_cfg, vae_cfg = BACKBONES[args.backbone]
    unet = build_unet(unet_cfg | {"num_frames": win}, dev, train_lora=per_video, lora_rank=args.lora_rank)
    vae = build_vae(vae_cfg, dev)
    with torch.device(dev):
        inr = NervInr(size, vae.config.latent_channels, (h, w))
    lora_params = sum(p.numel() for p in lora.lora_parameters(unet))
    unet_params = sum(p.numel() for p in unet.parameters()) - lora_params
    vae_params = sum(p.numel() for p in vae.parameters())
    inr_params = sum(p.numel() for p in inr.parameters())
    chunk = args.decode_chunk
    if chunk is None:  # as the encode picks it: sampler.decode_chunk_for on the budget
        fake = SimpleNamespace(
            vae=vae, parameters=lambda: iter([*unet.parameters(), *vae.parameters(), *inr.parameters()])
        )
        chunk = decode_chunk_for(fake, args.memory_gb, args.width, args.height, win)
    chunk_frames = chunk if 0 < chunk < win else win

    with gpu_like(autocast=not args.pure_bf16, attention=args.attention):
        step = step_costs(unet, inr, win, (h, w))
        warm = measure(inr_only_step, inr, win, (h, w), memory=False)
        fwd = measure(unet_forward, unet, win, (h, w))
        dec = measure(vae_decode, vae, chunk_frames, (h, w))
        enc_frames = min(VAE_ENCODE_FRAMES, args.frames)
        venc = measure(vae_encode, vae, enc_frames, (h, w))

    # per sequence
    joint_steps = n * args.steps_per_window if args.steps is None else args.steps
    warm_steps = n * args.warmup_steps_per_window if args.warmup_steps is None else args.warmup_steps
    mode = args.checkpointing
    step_flops = (
        step[f"step_flops_{mode}"] if mode != "off" else step["step_fwd_flops"] + step["step_bwd_flops"]
    )
    vae_enc_per_frame = venc["flops"] / enc_frames
    vae_dec_per_frame = dec["flops"] / chunk_frames
    enc_flops = joint_steps * step_flops + warm_steps * warm["flops"] + args.frames * vae_enc_per_frame
    dec_flops = n * args.inference_steps * fwd["flops"] + args.frames * vae_dec_per_frame
    rate = args.tflops * 1e12 * args.mfu

    weights = 2 * (unet_params + vae_params) + 4 * lora_params  # bf16 frozen, fp32 LoRA
    trained = inr_params + (lora_params if per_video else 0)
    optim = 3 * 4 * trained  # fp32 grad + Adam's two moments (params counted in weights / INR)
    resident_enc = weights + 4 * inr_params + optim
    act_step = step[f"peak_bytes_{mode}"]
    enc_peak = resident_enc + max(act_step, venc["peak_bytes"])
    dec_peak = weights + 4 * inr_params + max(fwd["peak_bytes"], dec["peak_bytes"])
    vae_model = (
        VAE_PEAK_ACTIVATIONS * chunk_frames * h * w * VAE_SCALE**2 * vae.config.block_out_channels[0] * 2
    )

    rows: list[dict[str, Any]] = []

    def row(scope: str, quantity: str, value: float, unit: str, method: str) -> None:
        rows.append({"scope": scope, "quantity": quantity, "value": value, "unit": unit, "method": method})

    T, G = 1e12, GiB
    ck = {"codec": "codec's", "diffusers": "diffusers-only", "off": "no"}[mode]
    row("model", "unet_params", unet_params, "params", f"counted ({args.backbone} config, LoRA excluded)")
    row("model", "vae_params", vae_params, "params", f"counted ({args.backbone} config)")
    row("model", "lora_params", lora_params, "params", f"counted (rank {args.lora_rank}, {args.adapters})")
    row("model", "inr_params", inr_params, "params", f"counted (rate point {args.rate_point})")
    row("unet forward", "flops", fwd["flops"] / T, "TFLOP", f"counted, {win} frames at {h}x{w} latents")
    for cls in ("conv", "matmul", "attention"):
        row("unet forward", f"{cls}_flops", fwd[f"{cls}_flops"] / T, "TFLOP", "counted, part of flops")
    row("encode step", "forward_flops", step["step_fwd_flops"] / T, "TFLOP", "counted (INR + UNet + loss)")
    row(
        "encode step",
        "backward_flops",
        step["step_bwd_flops"] / T,
        "TFLOP",
        "counted (grads to INR input path)",
    )
    fwd_flops = step["step_fwd_flops"]
    for m, what in (("codec", "the codec's"), ("diffusers", "diffusers-only")):
        row("encode step", f"step_flops_{m}_ckpt", step[f"step_flops_{m}"] / T, "TFLOP",
            f"counted: fwd + recompute + bwd, {what} checkpointing")  # fmt: skip
        row("encode step", f"recompute_flops_{m}_ckpt",
            (step[f"step_flops_{m}"] - fwd_flops - step["step_bwd_flops"]) / T, "TFLOP",
            f"counted: part of step_flops_{m}_ckpt")  # fmt: skip
    row("encode step", "warmup_step_flops", warm["flops"] / T, "TFLOP", "counted (INR only)")
    row("encode step", "saved_for_backward", step["saved_bytes"] / G, "GiB",
        "summed, saved_tensors_hooks, no ckpt")  # fmt: skip
    row("encode step", "activation_peak_no_ckpt", step["peak_bytes_off"] / G, "GiB", "simulated live peak")
    for m in ("codec", "diffusers"):
        row("encode step", f"activation_peak_{m}_ckpt", step[f"peak_bytes_{m}"] / G, "GiB",
            "simulated live peak")  # fmt: skip
    for m in ("codec", "diffusers"):
        row("encode step", f"model_peak_{m}_ckpt", step[f"model_peak_bytes_{m}"] / G, "GiB",
            "modelled: largest path of kept saves + unit inputs")  # fmt: skip
        row("encode step", f"model_outside_saved_{m}_ckpt", step[f"model_outside_bytes_{m}"] / G, "GiB",
            "part: saved outside every checkpointed unit")  # fmt: skip
        row("encode step", f"model_unit_inputs_{m}_ckpt", step[f"model_inputs_bytes_{m}"] / G, "GiB",
            "part: inputs kept by the top-level units")  # fmt: skip
        row("encode step", f"units_{m}_ckpt", step[f"model_units_{m}"], "modules",
            f"checkpointed calls, {step[f'model_top_units_{m}']} at top level")  # fmt: skip
    row(
        "vae",
        "encode_flops_per_frame",
        vae_enc_per_frame / T,
        "TFLOP",
        f"counted, {enc_frames} frames per call",
    )
    row("vae", "decode_flops_per_frame", vae_dec_per_frame / T, "TFLOP", f"counted, chunk of {chunk_frames}")
    row(
        "vae",
        "decode_chunk",
        chunk_frames,
        "frames",
        f"decode_chunk_for({args.memory_gb} GiB)" if args.decode_chunk is None else "given",
    )
    row("vae", "decode_peak_chunk", dec["peak_bytes"] / G, "GiB", "simulated live peak")
    row(
        "vae",
        "decode_peak_chunk_model",
        vae_model / G,
        "GiB",
        f"VAE_PEAK_ACTIVATIONS={VAE_PEAK_ACTIVATIONS} (sampler)",
    )
    row("vae", "encode_peak_call", venc["peak_bytes"] / G, "GiB", "simulated live peak")
    row("unet forward", "sampling_peak", fwd["peak_bytes"] / G, "GiB", "simulated live peak, no_grad")
    row("sequence", "windows", n, "windows", "ceil((frames - overlap) / (window - overlap))")
    row(
        "sequence",
        "joint_steps",
        joint_steps,
        "steps",
        "windows x steps_per_window (codec)" if args.steps is None else "given total",
    )
    row("sequence", "warmup_steps", warm_steps, "steps", "INR only")
    row(
        "sequence",
        "encode_flops",
        enc_flops / T,
        "TFLOP",
        f"steps x step ({ck} ckpt) + warm-up + frames x VAE encode",
    )
    row(
        "sequence",
        "decode_flops",
        dec_flops / T,
        "TFLOP",
        "n x inference_steps x UNet fwd + frames x VAE decode",
    )
    row(
        "sequence",
        "encode_time",
        enc_flops / rate,
        "s",
        f"FLOPs / ({args.tflops} TFLOP/s x MFU {args.mfu}), assumed",
    )
    row(
        "sequence",
        "decode_time",
        dec_flops / rate,
        "s",
        f"FLOPs / ({args.tflops} TFLOP/s x MFU {args.mfu}), assumed",
    )
    row("memory", "weights", weights / G, "GiB", "bf16 UNet + VAE, fp32 LoRA")
    row(
        "memory",
        "encode_peak",
        enc_peak / G,
        "GiB",
        f"weights + INR/optimiser + max(step {ck} ckpt, VAE encode)",
    )
    row("memory", "decode_peak", dec_peak / G, "GiB", "weights + max(UNet sampling, VAE decode chunk)")
    setting = {
        "width": args.width,
        "height": args.height,
        "latent_h": h,
        "latent_w": w,
        "frames": args.frames,
        "window": win,
        "overlap": args.overlap,
        "steps": joint_steps,
        "warmup_steps": warm_steps,
        "inference_steps": args.inference_steps,
        "decode_chunk": chunk_frames,
        "checkpointing": args.checkpointing,
        "adapters": args.adapters,
        "attention": args.attention,
        "autocast": not args.pure_bf16,
        "tflops": args.tflops,
        "mfu": args.mfu,
        "backbone": args.backbone,
        "device": str(dev),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return rows, setting


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--width", type=int, default=1920)
    p.add_argument("--height", type=int, default=1080)
    p.add_argument("--frames", type=int, default=600, help="frames of the sequence (UVG 1080p: 600)")
    p.add_argument("--window", type=int, default=25, help="frames per diffusion window (SVD-XT: 25)")
    p.add_argument(
        "--overlap", type=int, default=None, help="frames shared by neighbouring windows (unset: the codec's)"
    )
    p.add_argument(
        "--steps-per-window", type=int, default=200, help="joint encode steps per window (codec: 200)"
    )
    p.add_argument("--steps", type=int, default=None, help="instead: joint steps over the whole clip")
    p.add_argument(
        "--warmup-steps-per-window", type=int, default=0, help="INR-only steps per window (SVD: 0)"
    )
    p.add_argument("--warmup-steps", type=int, default=None, help="instead: INR-only steps over the clip")
    p.add_argument("--inference-steps", type=int, default=8, help="Euler steps per window of the decoder")
    p.add_argument(
        "--decode-chunk", type=int, default=None, help="VAE-decode chunk (unset: from --memory-gb)"
    )
    p.add_argument(
        "--memory-gb", type=float, default=24.0, help="the encode's memory_gb (picks decode_chunk)"
    )
    p.add_argument("--rate-point", default="m", help="rate point (xs, s, m, l, xl, xxl): sizes the INR")
    p.add_argument("--adapters", choices=("shared", "per_video"), default="shared")
    p.add_argument("--lora-rank", type=int, default=4)
    p.add_argument("--checkpointing", choices=CHECKPOINTING, default="codec",
                   help="checkpointing of the totals: the codec's (GPU default), diffusers' only, none")  # fmt: skip
    p.add_argument("--no-checkpointing", dest="checkpointing", action="store_const", const="off",
                   help="= --checkpointing off")  # fmt: skip
    p.add_argument("--attention", choices=("flash", "math"), default="flash")
    p.add_argument("--pure-bf16", action="store_true", help="norms in bf16 too (autocast runs them in fp32)")
    p.add_argument("--gpu", choices=sorted(PEAK_TFLOPS), default=None, help="sets --tflops")
    p.add_argument(
        "--tflops", type=float, default=989.0, help="peak dense bf16 TFLOP/s (H100/H200 989, A100 312)"
    )
    p.add_argument("--mfu", type=float, default=0.35, help="assumed fraction of peak sustained")
    p.add_argument("--backbone", choices=sorted(BACKBONES), default="svd-xt", help="tiny: quick checks only")
    p.add_argument("--device", default="meta", help="meta (default) or cpu (real tensors: small sizes only)")
    p.add_argument("--out", type=Path, default=None, help="write the tidy table as CSV")
    p.add_argument("--json", action="store_true", help="print the tidy table as JSON instead of text")
    args = p.parse_args(argv)
    if args.gpu:
        args.tflops = PEAK_TFLOPS[args.gpu]
    if args.overlap is None:
        args.overlap = min(codec_overlap(), max(args.window - 1, 0))  # the codec default, if it fits
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    diffusers_logging.set_verbosity_error()  # casting a model with .to(dtype) warns each time
    rows, setting = estimate(args)
    tidy = [{**setting, **r} for r in rows]
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(tidy[0]))
            writer.writeheader()
            writer.writerows(tidy)
    if args.json:
        json.dump(tidy, sys.stdout, indent=1)
        print()
        return 0
    s = setting
    print(
        f"DiV-INR on {s['backbone']}, {s['width']}x{s['height']} ({s['latent_h']}x{s['latent_w']} latents), {s['frames']} frames, "
        f"window {s['window']} overlap {s['overlap']}, {s['steps']} joint + {s['warmup_steps']} warm-up steps, "
        f"{s['inference_steps']} Euler steps, decode chunk {s['decode_chunk']}, device {s['device']} ({s['seconds']} s)"
    )
    print(
        f"time assumes {s['tflops']:g} TFLOP/s dense bf16 peak x MFU {s['mfu']:g} = "
        f"{s['tflops'] * s['mfu']:.0f} TFLOP/s sustained (H100/H200 989, A100 312); not measured"
    )
    width = max(len(f"{r['scope']} / {r['quantity']}") for r in rows)
    for r in rows:
        v = r["value"]
        text = (
            f"{v:,.0f}" if r["unit"] in ("params", "steps", "windows", "frames", "modules") else f"{v:,.3f}"
        )
        if r["unit"] == "s":
            text += f" ({v / 3600:.2f} h)" if v >= 3600 else f" ({v / 60:.1f} min)"
        print(f"{r['scope'] + ' / ' + r['quantity']:<{width}}  {text:>18} {r['unit']:<7} {r['method']}")
    print(
        f"headroom not included: CUDA context, cuDNN workspaces, allocator (sampler keeps {HEADROOM_GB:g} GiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
