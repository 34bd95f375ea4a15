"""Seeded, deterministic sampling of the INR-conditioned video diffusion model, window by window.

The INR spans the whole clip (times 0..1), so every window is conditioned on the same continuous
representation. Windows are the backbone's frame window; consecutive windows overlap by at least
``overlap`` frames and are spread evenly over the clip, so every window is full length (no
one-frame tail). Each frame's starting noise is drawn by a CPU generator seeded with the clip's
seed and the frame's index, so the windows that share a frame start it from the same noise; their
sampled latents are blended with linear ramps across the overlap before the VAE decodes them.
The Euler sampler (no churn) is deterministic, so one bitstream decodes to the same frames, bit for
bit, on the same machine and software.

Memory and precision:

* On a GPU the frozen backbone weights (UNet, VAE; not the LoRA adapters) are cast to bfloat16
  (float16 on GPUs without bfloat16; the VAE then stays float32 when its config asks for
  ``force_upcast``) and run under autocast; the INR, LoRA and the sampler's state stay float32.
  On a CPU everything stays float32: CPU decodes are bit-exact, as before.
* The VAE decodes a window in chunks of ``config.decode_chunk`` frames (0: the whole window), as
  diffusers' SVD pipeline does with ``decode_chunk_size``. The temporal decoder mixes the frames of
  one call (temporal convolutions, group norms over time), so the chunk changes the decoded frames,
  not just their rounding: it is chosen by the encode (option ``decode_chunk``, or from the
  ``memory_gb`` budget by :func:`decode_chunk_for`) and carried in the header. The decoding
  machine's memory never picks it, so a bitstream decodes to the same bytes anywhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Iterable, Iterator

import torch
from diffusers import EulerDiscreteScheduler
from torch import nn

from codecbench_divinr.module import DivInrModule

#: Default peak-memory budget (GiB) of a GPU decode, from which an encode picks ``decode_chunk``.
DEFAULT_MEMORY_GB = 24.0
#: Peak memory of the temporal VAE decoder, in units of one half-precision (frames,
#: block_out_channels[0], H, W) tensor. Measured on a CPU with the SVD VAE config (random weights,
#: 256x384x8): 7.95 units under bfloat16 autocast (10.4-10.9 in float32, in float32 units); not
#: measured on a GPU (none here), where cuDNN workspaces and the caching allocator add some: 12.
VAE_PEAK_ACTIVATIONS = 12
#: Room (GiB) kept for the UNet's sampling activations, the CUDA context and the allocator.
HEADROOM_GB = 2.0


def windows(frames: int, size: int, overlap: int = 0) -> list[range]:
    """The diffusion windows of a ``frames``-frame clip: ranges of ``size`` frames (all of them when
    the clip is shorter), the fewest that cover the clip with at least ``overlap`` frames shared by
    neighbours, their starts spread evenly (the first at 0, the last ending at the clip's end)."""
    if frames < 1 or size < 1:
        raise ValueError(f"windows of {size} frames over {frames} frames")
    if frames <= size:
        return [range(frames)]
    if not 0 <= overlap < size:
        raise ValueError(f"overlap {overlap} must be in 0..{size - 1} for windows of {size} frames")
    n = math.ceil((frames - overlap) / (size - overlap))
    return [range(s, s + size) for s in (round(k * (frames - size) / (n - 1)) for k in range(n))]


def chunks(frames: int, size: int) -> list[range]:
    """Consecutive, non-overlapping ranges of at most ``size`` frames covering ``frames`` (the last shorter)."""
    return [range(s, min(s + size, frames)) for s in range(0, frames, size)]


def blend_weights(ranges: list[range], k: int) -> torch.Tensor:
    """Weights (T,) of window ``k``'s frames in the blend: 1, ramping linearly across its overlaps
    with the previous and next windows so that two windows' weights on a shared frame sum to 1."""
    r = ranges[k]
    w = torch.ones(len(r))
    if k > 0 and ranges[k - 1].stop > r.start:
        a, b = r.start, ranges[k - 1].stop
        w[: b - a] = torch.arange(1, b - a + 1) / (b - a + 1)
    if k + 1 < len(ranges) and ranges[k + 1].start < r.stop:
        a, b = ranges[k + 1].start, r.stop
        w[a - r.start :] = torch.minimum(w[a - r.start :], torch.arange(b - a, 0, -1) / (b - a + 1))
    return w


def segments(ranges: list[range], frames: int) -> list[range]:
    """What the decoder VAE-decodes at a time: each window's frames that no later window touches."""
    return [
        range(r.start, ranges[k + 1].start if k + 1 < len(ranges) else frames) for k, r in enumerate(ranges)
    ]


def frame_noise(seed: int, frames: range, shape: tuple[int, ...]) -> torch.Tensor:
    """Standard Gaussian noise (T, *shape) for the clip's ``frames``: frame ``i`` always gets the same
    draw for one ``seed``, whichever window asks, from a CPU generator (any device, same noise)."""
    out = []
    for i in frames:
        key = hashlib.sha256(f"{int(seed)}:{int(i)}".encode()).digest()[:4]  # torch seeds use 32 bits
        gen = torch.Generator("cpu").manual_seed(int.from_bytes(key, "little"))
        out.append(torch.randn(shape, generator=gen, dtype=torch.float32))
    return torch.stack(out)


# ---- precision --------------------------------------------------------------------------------
def half_dtype(device: torch.device) -> torch.dtype:
    """The dtype of the frozen backbone on ``device``: bfloat16 (float16 without it) on CUDA, else float32."""
    device = torch.device(device)
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def frozen_parameters(module: DivInrModule, dtype: torch.dtype = torch.float32) -> list[nn.Parameter]:
    """The backbone weights that stay frozen (UNet and VAE, not LoRA) and would be cast to ``dtype``.

    The VAE is left out for float16 when its config asks for ``force_upcast`` (SD-family VAEs
    overflow in float16).
    """
    out = [p for n, p in module.unet.named_parameters() if "lora_" not in n]
    if dtype != torch.float16 or not getattr(module.vae.config, "force_upcast", False):
        out += list(module.vae.parameters())
    return out


def cast_frozen(module: DivInrModule, dtype: torch.dtype) -> dict[nn.Parameter, torch.Tensor]:
    """Cast the frozen backbone weights to ``dtype`` in place; returns their previous data (to restore).

    Nothing happens for float32. Trained weights (INR, LoRA, context) keep their float32 masters.
    """
    saved = {}
    if dtype == torch.float32:
        return saved
    for p in frozen_parameters(module, dtype):
        if p.dtype != dtype:
            saved[p] = p.data
            p.data = p.data.to(dtype)
    return saved


def restore_frozen(saved: dict[nn.Parameter, torch.Tensor]) -> None:
    """Put back the weights :func:`cast_frozen` replaced."""
    for p, data in saved.items():
        p.data = data


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """Autocast to ``dtype`` on ``device`` (a no-op for float32: CPU decodes run as they always did)."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def param_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the first non-LoRA weight of ``model`` (the dtype its frozen part computes in)."""
    return next(p.dtype for n, p in model.named_parameters() if "lora_" not in n)


# ---- memory -----------------------------------------------------------------------------------
def decode_chunk_for(
    module: DivInrModule, memory_gb: float, width: int, height: int, window: int, vae_scale: int = 8
) -> int:
    """Frames per VAE-decode chunk that keep a GPU decode of a ``width`` x ``height`` clip under
    ``memory_gb`` GiB (0: the whole ``window`` fits, or no budget).

    A pure function of the budget, the picture size and the backbone's configuration (weights in
    half precision, :data:`VAE_PEAK_ACTIVATIONS` full-resolution activations of the VAE's widest
    top stage per frame), so every machine encoding with the same options writes the same chunk.
    """
    if memory_gb <= 0 or window <= 1:
        return 0
    pixels = math.ceil(height / vae_scale) * vae_scale * math.ceil(width / vae_scale) * vae_scale
    per_frame = VAE_PEAK_ACTIVATIONS * pixels * int(module.vae.config.block_out_channels[0]) * 2
    weights = 2 * sum(p.numel() for p in module.parameters())
    room = memory_gb * 2**30 - weights - HEADROOM_GB * 2**30
    chunk = max(1, int(room // per_frame))
    return 0 if chunk >= window else chunk


# ---- sampling ---------------------------------------------------------------------------------
@torch.no_grad()
def sample_window(
    module: DivInrModule,
    cond: torch.Tensor,
    steps: int,
    seed: int,
    keep: Iterable[int] = (),
    frames: range | None = None,
) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """Sample latents (T, C, h, w) for one window from conditioning ``cond`` (T, C, h, w).

    The window's starting noise is :func:`frame_noise` of ``seed`` for the clip's ``frames``
    (default: frames 0..T-1). Also returns the predicted clean latents x0 at the denoising steps listed in ``keep``
    (0-based), for the semantic-to-visual analysis. The UNet runs under autocast when its frozen
    weights are in half precision; the sampler's state stays float32.
    """
    keep = set(keep)
    sched = EulerDiscreteScheduler.from_config(module.scheduler.config)
    sched.set_timesteps(steps, device="cpu")
    frames = range(cond.shape[0]) if frames is None else frames
    x = frame_noise(seed, frames, tuple(cond.shape[1:]))[None] * sched.init_noise_sigma
    x = x.to(module.device)
    cond = cond[None].to(module.device, x.dtype)
    ctx = module.context.expand(1, -1, -1).to(x.dtype)
    ids = module.added_time_ids(1).to(x.dtype)
    kept = {}
    with autocast(module.device, param_dtype(module.unet)):
        for i, t in enumerate(sched.timesteps):
            inp = torch.cat([sched.scale_model_input(x, t), cond], dim=2)
            out = module.unet(inp, t, ctx, added_time_ids=ids).sample
            res = sched.step(out.float(), t, x)
            x = res.prev_sample
            if i in keep:
                kept[i] = res.pred_original_sample[0].float().cpu()
    return x[0].float().cpu(), kept


@torch.no_grad()
def decode_latents(module: DivInrModule, latents: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """VAE-decode (T, C, h, w) diffusion latents of one window to RGB frames (T, 3, H, W) in [0, 1].

    The temporal decoder sees ``chunk`` frames per call (default: the header's ``decode_chunk``;
    0 or at least T: the whole window in one call).
    """
    chunk = int(module.config.decode_chunk) if chunk is None else int(chunk)
    z = (latents / module.scaling_factor).to(module.device)
    size = chunk if 0 < chunk < z.shape[0] else z.shape[0]
    parts = []
    with autocast(module.device, param_dtype(module.vae)):
        for zc in z.split(size):
            parts.append(module.vae.decode(zc, num_frames=zc.shape[0]).sample.float().cpu())
    rgb = parts[0] if len(parts) == 1 else torch.cat(parts)
    return ((rgb + 1) / 2).clamp(0, 1)


@torch.no_grad()
def generate(
    module: DivInrModule, frames: int, steps: int, seed: int, window: int, overlap: int = 0
) -> Iterator[torch.Tensor]:
    """Yield decoded RGB frames (T, 3, H', W') of a ``frames``-frame clip, a segment at a time.

    Windows (:func:`windows`) are sampled in order; their latents are blended over the overlaps
    (:func:`blend_weights`), and the frames no later window touches are VAE-decoded and yielded.
    On a GPU the module's frozen backbone is cast to half precision in place (and left so: the
    decoder's module is its own); on a CPU nothing changes.
    """
    from codecbench_divinr.inr import frame_times

    cast_frozen(module, half_dtype(module.device))
    t = frame_times(frames, module.device)
    ranges = windows(frames, window, overlap)
    done, num, den = 0, None, None  # blended sums of the frames done..(last window's stop)
    for k, r in enumerate(ranges):
        cond = module.inr(t[r.start : r.stop]).float()
        lat, _ = sample_window(module, cond, steps, seed, frames=r)
        w = blend_weights(ranges, k).view(-1, 1, 1, 1)
        if num is None:
            num, den = torch.zeros((0, *lat.shape[1:])), torch.zeros((0, 1, 1, 1))
        grow = r.stop - done - num.shape[0]
        if grow > 0:
            num = torch.cat([num, num.new_zeros((grow, *num.shape[1:]))])
            den = torch.cat([den, den.new_zeros((grow, 1, 1, 1))])
        num[r.start - done :] += w * lat
        den[r.start - done :] += w
        final = segments(ranges, frames)[k].stop
        yield decode_latents(module, num[: final - done] / den[: final - done])
        num, den, done = num[final - done :], den[final - done :], final
