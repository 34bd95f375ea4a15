"""Gradient checkpointing of the SVD UNet for an encode, the temporal transformer blocks included.

diffusers' ``enable_gradient_checkpointing`` recomputes the ResNet blocks and the spatial
transformer blocks, but a ``TransformerSpatioTemporalModel`` calls its temporal transformer blocks
and its time mixer outside any checkpoint: at 1080p their saved activations are most of an encode
step's memory (about 178 of 196 GiB for a 25-frame SVD-XT window, ``docs/divinr_1080p.md``). Here
each ``TransformerSpatioTemporalModel`` as a whole runs under a (non-reentrant) checkpoint as well,
so only its input is kept for the backward pass and its inside is recomputed.
"""

from __future__ import annotations

import types
from typing import Any

import torch
from diffusers.models.transformers.transformer_temporal import TransformerSpatioTemporalModel
from torch import nn
from torch.utils.checkpoint import checkpoint


def _checkpointed_forward(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
    if torch.is_grad_enabled():
        return checkpoint(self._plain_forward, *args, use_reentrant=False, **kwargs)
    return self._plain_forward(*args, **kwargs)


def enable(unet: nn.Module) -> int:
    """Turn on diffusers' checkpointing and checkpoint every spatio-temporal transformer whole;
    returns how many transformers were wrapped."""
    unet.enable_gradient_checkpointing()
    n = 0
    for m in unet.modules():
        if isinstance(m, TransformerSpatioTemporalModel) and "_plain_forward" not in vars(m):
            m._plain_forward = m.forward
            m.forward = types.MethodType(_checkpointed_forward, m)
            n += 1
    return n


def disable(unet: nn.Module) -> None:
    """Undo :func:`enable`."""
    unet.disable_gradient_checkpointing()
    for m in unet.modules():
        plain = vars(m).pop("_plain_forward", None)
        if plain is None:
            continue
        if getattr(plain, "__func__", None) is type(m).forward:
            del m.forward
        else:
            m.forward = plain


def wrapped(unet: nn.Module) -> int:
    """How many modules of ``unet`` run under this module's checkpoint now."""
    return sum(1 for m in unet.modules() if "_plain_forward" in vars(m))
