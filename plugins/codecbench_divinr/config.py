"""The codec configuration: every setting that shapes a DiV-INR bitstream, separate from any weights.

Like a diffusers config, it is a plain dataclass saved as ``config.json`` with :meth:`save_pretrained`
and read back with :meth:`from_pretrained`; the same dictionary travels in every bitstream header.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from codecbench import CodecbenchError
from codecbench_divinr.backbone import BUILTIN, PAPER_SCHEDULE, TINY, builtin_revision, software

CONFIG_NAME = "config.json"


@dataclass
class InrSize:
    """Width of the NeRV-style INR: positional-encoding frequencies, stem width and block channels."""

    freqs: int = 8
    stem: int = 32
    channels: tuple[int, ...] = (16, 12, 8)

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)


@dataclass
class DivInrConfig:
    """Settings of one DiV-INR encode; the decoder rebuilds everything from these and the coded weights."""

    backbone: str = "tiny"
    revision: str = "main"
    seed: int = 0
    inr: InrSize = field(default_factory=InrSize)
    lam: float = 1e-3
    #: Joint optimisation steps per diffusion window (the encode runs ``steps * windows``).
    steps: int = PAPER_SCHEDULE[0]
    #: Steps per window before the joint ones that fit the INR to the latents alone (regression and
    #: rate, no diffusion term): a cheap warm start, so the joint steps begin from a fitted INR.
    warmup_steps: int = 0
    lr: float = 5e-3
    regression_weight: float = 1.0
    inference_steps: int = PAPER_SCHEDULE[1]
    #: Frames per diffusion window; 0 (until an encode resolves it) means the backbone's window.
    window: int = 8
    #: Frames shared by neighbouring windows: sampled from the same noise, blended linearly.
    overlap: int = 0
    adapters: str = "shared"
    lora_rank: int = 4
    lora_convs: bool = False
    motion_bucket_id: int = 127
    noise_aug_strength: float = 0.0
    fps: float = 24.0
    shared_sha256: str = ""
    #: Frames per VAE-decode chunk (0: the whole window). The temporal VAE decoder mixes the frames
    #: of a chunk (temporal convolutions, group norms over time), so this shapes the decoded frames:
    #: the encode chooses it (options ``decode_chunk`` / ``memory_gb``) and the header carries it.
    decode_chunk: int = 0
    #: False is ablation (a): the INR is fitted to the VAE latents alone and the decoder VAE-decodes
    #: its output, with no diffusion (the method without its generative prior).
    diffusion: bool = True
    #: For ``tiny``: the torch and diffusers versions that drew its random weights (the decoder checks them).
    software: str = ""

    def __post_init__(self) -> None:
        if self.backbone in BUILTIN and self.revision == "main":  # unset: this version's weights
            self.revision = builtin_revision(self.backbone)
        if self.backbone == TINY and not self.software:
            self.software = software()
        if isinstance(self.inr, dict):
            self.inr = InrSize(**self.inr)
        if self.adapters not in ("shared", "per_video"):
            raise CodecbenchError(f"divinr: adapters must be 'shared' or 'per_video', got {self.adapters!r}")
        if min(self.window, self.steps, self.warmup_steps, self.overlap) < 0 or self.inference_steps < 1:
            raise CodecbenchError(
                "divinr: inference_steps must be >= 1, window, overlap, steps and warmup_steps >= 0"
            )
        if self.window and self.overlap >= self.window:
            raise CodecbenchError(
                f"divinr: overlap {self.overlap} must be smaller than the window {self.window}"
            )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["inr"]["channels"] = list(d["inr"]["channels"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DivInrConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise CodecbenchError(f"divinr config: unknown keys {unknown}")
        return cls(**d)

    def save_pretrained(self, folder: Path | str) -> Path:
        """Write ``config.json`` into ``folder`` (created if needed); returns its path."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / CONFIG_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True))
        return path

    @classmethod
    def from_pretrained(cls, folder: Path | str) -> DivInrConfig:
        """Read ``config.json`` from ``folder`` (or a path to the file itself)."""
        path = Path(folder)
        if path.is_dir():
            path = path / CONFIG_NAME
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as e:
            raise CodecbenchError(f"divinr: cannot read config {path}: {e}") from e
