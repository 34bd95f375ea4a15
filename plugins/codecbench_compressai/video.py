"""CompressAI's learned video codec ssf2020 (Agustsson et al., Scale-Space Flow, CVPR 2020).

Each GOP is an intra frame followed by P frames, each predicted from the previous reconstruction by
scale-space warping plus a coded residual. The reference is the *decoded* reconstruction on both
sides: CompressAI's ``encode_inter`` rebuilds it from the quantised latents exactly as ``decode_inter``
does; it is clamped to [0, 1] as in CompressAI's video evaluation, on both sides, before it serves as the
next reference.

Default ladder: qualities 1-9. Only quality 1 is below 0.05 bpp in CompressAI's published UVG 1080p
results (10.4 Mbit/s at 120 frames/s, about 0.042 bpp; quality 2 is about 0.066 bpp), coded there with a
single intra frame; shorter GOPs cost more.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from codecbench import BitstreamError, CodecbenchError, Frame, Option

from . import frames as F
from .base import COMMON_OPTIONS, CompressAICodec
from .bitstream import Header, Packet, Part

PARTS = ("motion", "residual")


def _part(strings: list[list[bytes]], shape: torch.Size) -> Part:
    """A batch-of-one latent's strings ([y, z], each a list of one) and shape as a :class:`Part`."""
    return Part(tuple(s[0] for s in strings), tuple(shape))


def _strings(part: Part, what: str) -> list[list[bytes]]:
    if len(part.strings) != 2 or len(part.shape) != 2:
        raise BitstreamError(f"{what}: corrupt ssf2020 packet")
    return [[s] for s in part.strings]


class SSF2020(CompressAICodec):
    """Scale-space flow video codec: intra frame, then P frames, restarting every ``gop`` frames."""

    name = "ssf2020"
    description = "Agustsson et al. 2020 scale-space flow video codec (CompressAI zoo), I then P frames"
    options_spec: ClassVar[dict[str, Option]] = {
        **COMMON_OPTIONS,
        "metric": Option("mse", "distortion the weights were trained for", str, ("mse",)),
        "gop": Option(32, "frames per GOP (an intra frame, then P frames); 0: one intra frame only", int),
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not 0 <= self.options["gop"] <= 0xFFFF:
            raise CodecbenchError(f"{self.name}.gop: must be between 0 (intra once) and 65535")

    def _gop(self) -> int:
        return self.options["gop"]

    @staticmethod
    def _intra(header: Header, index: int) -> bool:
        return index == 0 or (header.gop > 0 and index % header.gop == 0)

    def _encode_group(
        self, model: torch.nn.Module, header: Header, start: int, frames: list[Frame], state: Any, keep: bool
    ) -> tuple[list[Packet], list[Frame], Any]:
        fmt = self._format(header)
        pad = F.padding(fmt, self.spec.multiple)
        x = F.to_tensor(frames, fmt, header.matrix, pad, self.device)
        if self._intra(header, start):
            x_rec, out = model.encode_keyframe(x)
            packet = [_part(out["strings"], out["shape"])]
        else:
            x_rec, out = model.encode_inter(x, state)
            packet = [_part(out["strings"][k], out["shape"][k]) for k in PARTS]
        x_ref = x_rec.clamp(0.0, 1.0)
        return [packet], F.to_frames(x_ref, fmt, header.matrix, pad) if keep else [], x_ref

    def _decode_group(
        self, model: torch.nn.Module, header: Header, start: int, packets: list[Packet], state: Any
    ) -> tuple[list[Frame], Any]:
        (packet,) = packets
        what = f"frame {start}"
        if self._intra(header, start):
            if len(packet) != 1:
                raise BitstreamError(f"{what}: expected an intra frame, found {len(packet)} parts")
            x_rec = model.decode_keyframe(_strings(packet[0], what), torch.Size(packet[0].shape))
        else:
            if len(packet) != len(PARTS):
                raise BitstreamError(f"{what}: expected a P frame, found {len(packet)} parts")
            strings = {k: _strings(p, what) for k, p in zip(PARTS, packet, strict=True)}
            shapes = {k: torch.Size(p.shape) for k, p in zip(PARTS, packet, strict=True)}
            x_rec = model.decode_inter(state, strings, shapes)
        x_ref = x_rec.clamp(0.0, 1.0)
        fmt = self._format(header)
        return F.to_frames(x_ref, fmt, header.matrix, F.padding(fmt, self.spec.multiple)), x_ref
