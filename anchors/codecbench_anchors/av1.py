"""AV1 through libaom in ffmpeg, written as a low-overhead OBU stream (no IVF container).

The ``obu`` format (AV1 spec section 5: temporal units of OBUs, each starting with a temporal
delimiter) is the rawest form ffmpeg both writes and reads back; IVF would add a 32-byte file header
and 12 bytes per frame of container data that no AV1 decoder needs.
"""

from __future__ import annotations

from typing import ClassVar

from codecbench_anchors.ffmpeg_codec import FIRST_ONLY, FFmpegCodec, common_options

AOM_SPEEDS = tuple(str(i) for i in range(9))
#: Keyframe distance standing for "never": longer than any sequence a benchmark encodes.
NO_KEYFRAMES = 1_000_000


class AV1(FFmpegCodec):
    """libaom at a constant quantizer (``end-usage=q``, ``cq-level`` = min-q = max-q = the rate point)."""

    name = "av1"
    description = "AV1 by libaom (ffmpeg libaom-av1), raw OBU stream, decoded by dav1d or libaom"
    bitstream_suffix = ".obu"
    encoder = "libaom-av1"
    decoders = ("libdav1d", "libaom-av1")
    raw_format = "obu"
    library = "libaom"
    version_pattern = r"\[libaom-av1 @ [^\]]*\] (v\S+)"
    qp_range = (0, 63)
    qp_ladder = (63, 58, 53, 48, 43, 38, 33, 28)
    ra_gop = 16
    options_spec: ClassVar = common_options("4", AOM_SPEEDS, ("qp", "bitrate"), "libaom parameters")

    def codec_args(self, rate: str, intra_period: str, bit_depth: str) -> list[str]:
        """``-cpu-used`` (the preset), rate control, look-ahead (0 for low delay) and keyframe distance."""
        o = self.options
        # Row multi-threading makes libaom's output depend on the thread count; tile threads do not.
        args = ["-cpu-used", o["preset"], "-row-mt", "0"]
        if o["mode"] == "bitrate":
            args += ["-b:v", f"{rate}k"]
        else:
            # end-usage=q at cq-level=rate, with the quantizer pinned so every frame uses it
            # (without the pin libaom boosts the intra frame and cannot go below ~0.02 bpp).
            args += ["-crf", rate, "-b:v", "0", "-qmin", rate, "-qmax", rate]
        if o["config"] == "ld":
            args += ["-lag-in-frames", "0"]
        else:
            args += ["-lag-in-frames", "35", "-auto-alt-ref", "1"]
        period = str(NO_KEYFRAMES) if intra_period == str(FIRST_ONLY) else intra_period
        args += ["-g", period, "-keyint_min", period]
        if o["params"]:
            args += ["-aom-params", o["params"]]
        return args
