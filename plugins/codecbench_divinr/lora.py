"""LoRA adapters on the UNet, injected with PEFT, and their (de)serialisation.

Targets the attention projections ``to_q, to_k, to_v, to_out.0`` of every spatial and temporal
transformer block; with ``convs`` also the ResNet convolutions ``conv1, conv2``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model, set_peft_model_state_dict
from safetensors.torch import load_file, save_file
from torch import nn

ATTENTION_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
CONV_TARGETS = ("conv1", "conv2")
ADAPTER = "default"


def lora_config(rank: int, convs: bool = False) -> LoraConfig:
    """The PEFT config of DiV-INR's adapters (alpha = rank, so the scale is 1)."""
    targets = list(ATTENTION_TARGETS) + (list(CONV_TARGETS) if convs else [])
    return LoraConfig(r=rank, lora_alpha=rank, target_modules=targets, init_lora_weights=True)


def inject(unet: nn.Module, rank: int, convs: bool = False, seed: int = 0) -> nn.Module:
    """Add LoRA layers to ``unet`` in place (A drawn from ``seed``, B zero: the UNet is unchanged)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        inject_adapter_in_model(lora_config(rank, convs), unet, adapter_name=ADAPTER)
    return unet


def lora_modules(unet: nn.Module) -> list[tuple[str, nn.Module]]:
    """The LoRA down/up projections (``lora_A``/``lora_B``) of ``unet``, in module order."""
    return [
        (n, m)
        for n, m in unet.named_modules()
        if (n.endswith(f"lora_A.{ADAPTER}") or n.endswith(f"lora_B.{ADAPTER}")) and hasattr(m, "weight")
    ]


def lora_parameters(unet: nn.Module) -> list[nn.Parameter]:
    return [p for n, p in unet.named_parameters() if "lora_" in n]


def save_adapters(unet: nn.Module, path: Path | str) -> None:
    """Save the LoRA weights (PEFT state-dict names) as safetensors."""
    state = {
        k: v.detach().cpu().contiguous()
        for k, v in get_peft_model_state_dict(unet, adapter_name=ADAPTER).items()
    }
    save_file(state, str(path))


def load_adapters(unet: nn.Module, path: Path | str) -> None:
    """Load LoRA weights saved by :func:`save_adapters` into an injected ``unet``."""
    result = set_peft_model_state_dict(unet, load_file(str(path)), adapter_name=ADAPTER)
    unexpected = getattr(result, "unexpected_keys", [])
    if unexpected:
        raise ValueError(f"adapter file {path} does not fit this UNet: {unexpected[:3]}")
