"""Choosing the torch device of a codec or metric from its ``device`` option."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codecbench.errors import CodecbenchError

if TYPE_CHECKING:
    import torch


def choose_device(choice: str = "auto", owner: str = "", require: bool = False) -> torch.device:
    """The torch device ``choice`` names: ``auto`` is CUDA when torch sees one, else the CPU.

    Any other value must parse as a torch device (``cpu``, ``cuda``, ``cuda:1``, ...); with
    ``require``, a CUDA device must also be present. ``owner`` (e.g. ``lpips_alex``) starts
    the error messages.
    """
    import torch

    who = f"{owner}: " if owner else ""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(choice)
    except RuntimeError as e:
        raise CodecbenchError(f"{who}device {choice!r} is not a torch device ({e})") from None
    if require and device.type == "cuda" and not torch.cuda.is_available():
        raise CodecbenchError(f"{who}device {choice!r} asked for, but torch sees no CUDA device here")
    return device
