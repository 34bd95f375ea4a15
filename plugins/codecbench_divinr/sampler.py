"""Seeded, deterministic sampling of the INR-conditioned video diffusion model, window by window.

The INR spans the whole clip (times 0..1), so every window is conditioned on the same continuous
representation; windows are the backbone's frame window, coded back to back without overlap
(the last one shorter). Window ``k`` starts from Gaussian noise drawn by a CPU generator seeded
with ``seed + k``; the Euler sampler (no churn) is then deterministic, so one bitstream decodes to
the same frames, bit for bit, on the same machine and software.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from diffusers import EulerDiscreteScheduler

from codecbench_divinr.module import DivInrModule


def windows(frames: int, size: int) -> list[range]:
    """Consecutive, non-overlapping frame ranges of at most ``size`` frames covering ``frames``."""
    return [range(s, min(s + size, frames)) for s in range(0, frames, size)]


@torch.no_grad()
def sample_window(
    module: DivInrModule,
    cond: torch.Tensor,
    steps: int,
    seed: int,
    keep: Iterable[int] = (),
) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """Sample latents (T, C, h, w) for one window from conditioning ``cond`` (T, C, h, w).

    Also returns the predicted clean latents x0 at the denoising steps listed in ``keep``
    (0-based), for the semantic-to-visual analysis.
    """
    keep = set(keep)
    sched = EulerDiscreteScheduler.from_config(module.scheduler.config)
    sched.set_timesteps(steps, device="cpu")
    gen = torch.Generator("cpu").manual_seed(int(seed))
    shape = (1, *cond.shape)
    x = torch.randn(shape, generator=gen, dtype=torch.float32) * sched.init_noise_sigma
    x = x.to(module.device)
    cond = cond[None].to(module.device, x.dtype)
    ctx = module.context.expand(1, -1, -1).to(x.dtype)
    ids = module.added_time_ids(1).to(x.dtype)
    kept = {}
    for i, t in enumerate(sched.timesteps):
        inp = torch.cat([sched.scale_model_input(x, t), cond], dim=2)
        out = module.unet(inp, t, ctx, added_time_ids=ids).sample
        res = sched.step(out, t, x)
        x = res.prev_sample
        if i in keep:
            kept[i] = res.pred_original_sample[0].float().cpu()
    return x[0].float().cpu(), kept


@torch.no_grad()
def decode_latents(module: DivInrModule, latents: torch.Tensor) -> torch.Tensor:
    """VAE-decode (T, C, h, w) diffusion latents of one window to RGB frames (T, 3, H, W) in [0, 1]."""
    z = (latents / module.scaling_factor).to(module.device)
    rgb = module.vae.decode(z, num_frames=z.shape[0]).sample.float().cpu()
    return ((rgb + 1) / 2).clamp(0, 1)


@torch.no_grad()
def generate(module: DivInrModule, frames: int, steps: int, seed: int, window: int) -> Iterable[torch.Tensor]:
    """Yield decoded RGB windows (T, 3, H', W') for a ``frames``-frame clip."""
    from codecbench_divinr.inr import frame_times

    t = frame_times(frames, module.device)
    for k, r in enumerate(windows(frames, window)):
        cond = module.inr(t[r.start : r.stop]).float()
        lat, _ = sample_window(module, cond, steps, seed + k)
        yield decode_latents(module, lat)
