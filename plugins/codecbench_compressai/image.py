"""CompressAI's learned image codecs, applied to a video frame by frame (every frame intra).

Frames are coded in batches of ``batch`` per ``compress()`` call, and the decoder forms exactly the same
batches (the batch size is in the header): convolution results may depend on the batch shape, and the
entropy decoder needs the encoder's hyperprior outputs to the last bit.

Default ladder: the zoo's qualities (1-8; 1-6 for cheng2020-*). None reaches 0.05 bpp on Kodak: the
lowest quality gives 0.11-0.13 bpp there (CompressAI's published results: factorized 0.123, hyperprior
0.131, mbt2018 0.111, cheng2020-anchor 0.120); smooth HD video frames cost less, which we have not
measured with the real weights.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from codecbench import BitstreamError, CodecbenchError, Frame, Option

from . import frames as F
from .base import COMMON_OPTIONS, CompressAICodec
from .bitstream import Header, Packet, Part


class ImageCodec(CompressAICodec):
    """A CompressAI image model coding each frame independently; the rate point is the quality."""

    options_spec: ClassVar[dict[str, Option]] = {
        **COMMON_OPTIONS,
        "batch": Option(0, "frames per compress() call; 0: 1 on CPU, 4 on CUDA", int),
    }
    #: Entropy-coded strings per frame: the latent, then the hyper-latent when there is one.
    strings_per_frame: ClassVar[int] = 2
    #: Autoregressive context models run their entropy coding loop position by position, which is
    #: slow on a GPU (CompressAI says so too); ``device=auto`` keeps them on the CPU.
    autoregressive: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not 0 <= self.options["batch"] <= 0xFFFF:
            raise CodecbenchError(f"{self.name}.batch: must be between 0 and 65535")

    @property
    def device(self) -> torch.device:
        if self.options["device"] == "auto" and self.autoregressive:
            return torch.device("cpu")
        return super().device

    def _batch(self) -> int:
        return self.options["batch"] or (4 if self.device.type == "cuda" else 1)

    def _encode_group(
        self, model: torch.nn.Module, header: Header, start: int, frames: list[Frame], state: Any, keep: bool
    ) -> tuple[list[Packet], list[Frame], Any]:
        fmt = self._format(header)
        pad = F.padding(fmt, self.spec.multiple)
        out = model.compress(F.to_tensor(frames, fmt, header.matrix, pad, self.device))
        strings, shape = out["strings"], tuple(out["shape"])
        packets = [[Part(tuple(s[i] for s in strings), shape)] for i in range(len(frames))]
        recon = []
        if keep:
            recon = F.to_frames(model.decompress(strings, out["shape"])["x_hat"], fmt, header.matrix, pad)
        return packets, recon, None

    def _decode_group(
        self, model: torch.nn.Module, header: Header, start: int, packets: list[Packet], state: Any
    ) -> tuple[list[Frame], Any]:
        parts = []
        for i, packet in enumerate(packets, start):
            if len(packet) != 1 or len(packet[0].strings) != self.strings_per_frame:
                raise BitstreamError(f"frame {i}: not a {self.name} frame")
            parts.append(packet[0])
        shape = parts[0].shape
        if len(shape) != 2 or any(p.shape != shape for p in parts):
            raise BitstreamError(f"frames {start}..: inconsistent latent shapes in one batch")
        strings = [[p.strings[k] for p in parts] for k in range(self.strings_per_frame)]
        fmt = self._format(header)
        x_hat = model.decompress(strings, torch.Size(shape))["x_hat"]
        return F.to_frames(x_hat, fmt, header.matrix, F.padding(fmt, self.spec.multiple)), None


class Bmshj2018Factorized(ImageCodec):
    name = "bmshj2018-factorized"
    description = "Ballé et al. 2018 factorized prior (CompressAI zoo), frame by frame"
    strings_per_frame = 1


class Bmshj2018Hyperprior(ImageCodec):
    name = "bmshj2018-hyperprior"
    description = "Ballé et al. 2018 scale hyperprior (CompressAI zoo), frame by frame"


class Mbt2018Mean(ImageCodec):
    name = "mbt2018-mean"
    description = "Minnen et al. 2018 mean-scale hyperprior (CompressAI zoo), frame by frame"


class Mbt2018(ImageCodec):
    name = "mbt2018"
    description = "Minnen et al. 2018 joint autoregressive + hyperprior (CompressAI zoo), frame by frame"
    autoregressive = True


class Cheng2020Anchor(ImageCodec):
    name = "cheng2020-anchor"
    description = "Cheng et al. 2020 anchor, residual blocks + context model (CompressAI zoo), frame by frame"
    autoregressive = True


class Cheng2020Attn(ImageCodec):
    name = "cheng2020-attn"
    description = "Cheng et al. 2020 with attention modules (CompressAI zoo), frame by frame"
    autoregressive = True
