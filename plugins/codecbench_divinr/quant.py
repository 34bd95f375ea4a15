"""Quantisation-aware training of coded weights and their differentiable rate.

Each coded tensor is reparametrised (``torch.nn.utils.parametrize``) by :class:`LsqQuantizer`:
a learned step size ``s`` (LSQ), the forward weight is ``s * round(w / s)`` exactly, gradients
pass straight through the rounding. The rate model is a zero-mean discretised Laplacian per
tensor whose scale is the mean magnitude of its integers; the same model (scale stored as
float16) drives the range coder in :mod:`codecbench_divinr.bitstream`, so estimate and file agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

#: Smallest Laplacian scale of the rate model (in quantisation steps).
MIN_SCALE = 0.05


class LsqQuantizer(nn.Module):
    """Learned-step-size quantiser with a straight-through estimator."""

    def __init__(self, init: torch.Tensor, bits: int = 4) -> None:
        super().__init__()
        peak = float(init.detach().abs().max())
        step = max(peak, 1e-2) / 2 ** (bits - 1)
        self.log_step = nn.Parameter(torch.tensor(math.log(step), dtype=torch.float32))

    @property
    def step(self) -> torch.Tensor:
        return self.log_step.exp()

    def soft_ints(self, w: torch.Tensor) -> torch.Tensor:
        """``round(w / s)`` in the forward pass, identity gradient to ``w`` and ``s``."""
        x = w / self.step
        return torch.round(x).detach() + (x - x.detach())

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return self.step * self.soft_ints(w)


def attach(module: nn.Module, names: tuple[str, ...] = ("weight", "bias"), bits: int = 4) -> None:
    """Quantise every ``names`` parameter of ``module`` and its children in place."""
    for m in list(module.modules()):
        for n in names:
            p = getattr(m, n, None) if not parametrize.is_parametrized(m, n) else None
            if isinstance(p, nn.Parameter):
                parametrize.register_parametrization(m, n, LsqQuantizer(p, bits))


def quantised_tensors(module: nn.Module, prefix: str = "") -> Iterator[tuple[str, nn.Module, str]]:
    """(name, owning module, parameter name) of every quantised tensor, in a fixed (module) order."""
    for mname, m in module.named_modules(prefix=prefix.rstrip(".")):
        if not parametrize.is_parametrized(m):
            continue
        for pname, plist in m.parametrizations.items():
            if isinstance(plist[0], LsqQuantizer):
                yield (f"{mname}.{pname}" if mname else pname), m, pname


def raw_and_quantizer(m: nn.Module, pname: str) -> tuple[torch.Tensor, LsqQuantizer]:
    """The unquantised parameter and the quantiser of ``m.<pname>``."""
    plist = m.parametrizations[pname]
    return plist.original, plist[0]


def export_ints(m: nn.Module, pname: str) -> tuple[np.ndarray, float]:
    """The integers and float32 step size that reproduce ``m.<pname>`` exactly (``step * ints``)."""
    w, q = raw_and_quantizer(m, pname)
    with torch.no_grad():
        step = q.step.detach().float()
        ints = torch.round(w.detach().float() / step)
    return ints.cpu().to(torch.int64).numpy(), float(step.cpu())


def set_dequantised(m: nn.Module, pname: str, ints: np.ndarray, step: float) -> None:
    """Drop the quantiser of ``m.<pname>`` and set the plain float32 weight ``step * ints`` (the decoder side)."""
    w, _ = raw_and_quantizer(m, pname)
    if tuple(w.shape) != tuple(ints.shape):
        raise ValueError(f"shape {tuple(ints.shape)} does not fit {tuple(w.shape)}")
    parametrize.remove_parametrizations(m, pname, leave_parametrized=False)
    value = torch.tensor(np.float32(step)) * torch.from_numpy(ints.astype(np.float32))
    getattr(m, pname).data = value.to(getattr(m, pname).device)


def laplace_scale(ints: torch.Tensor) -> torch.Tensor:
    """Scale of the rate model of a tensor of integers: their mean magnitude (at least MIN_SCALE)."""
    return ints.abs().mean().clamp_min(MIN_SCALE)


def laplace_bits(ints: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Bits of ``ints`` under a zero-mean Laplacian of ``scale`` discretised to integer bins (differentiable)."""

    def cdf(x: torch.Tensor) -> torch.Tensor:
        return 0.5 + 0.5 * torch.sign(x) * (1.0 - torch.exp(-x.abs() / scale))

    mass = (cdf(ints + 0.5) - cdf(ints - 0.5)).clamp_min(1e-9)
    return -torch.log2(mass).sum()


def rate_bits(module: nn.Module, slots: list[tuple[str, nn.Module, str]] | None = None) -> torch.Tensor:
    """Differentiable estimate of the coded size, in bits, of every quantised tensor of ``module``.

    ``slots`` is :func:`quantised_tensors` of ``module`` when the caller keeps it (walking a
    UNet's module tree on every training step cost more than the INR's own forward pass).
    """
    total = torch.zeros(())
    for _, m, pname in quantised_tensors(module) if slots is None else slots:
        w, q = raw_and_quantizer(m, pname)
        ints = q.soft_ints(w)
        total = total.to(ints.device) + laplace_bits(ints, laplace_scale(ints.detach()))
    return total


def laplace_pmf(scale: float, peak: int) -> np.ndarray:
    """Probabilities of integers -peak..peak under the discretised Laplacian (float64, deterministic)."""
    k = np.arange(-peak, peak + 1, dtype=np.float64)

    def cdf(x: np.ndarray) -> np.ndarray:
        return 0.5 + 0.5 * np.sign(x) * (1.0 - np.exp(-np.abs(x) / scale))

    return cdf(k + 0.5) - cdf(k - 0.5)
