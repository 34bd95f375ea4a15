"""VVC through VVenC (ffmpeg libvvenc), written as a raw Annex-B stream, decoded by ffmpeg's native vvc."""

from __future__ import annotations

from typing import ClassVar

from codecbench import Option
from codecbench_anchors.ffmpeg_codec import FFmpegCodec, common_options

VVENC_PRESETS = ("faster", "fast", "medium", "slow", "slower")


class VVC(FFmpegCodec):
    """VVenC with a constant-QP ladder; ``config=ld`` turns picture reordering off (low delay B)."""

    name = "vvc"
    description = "VVC/H.266 by VVenC (ffmpeg libvvenc), raw Annex-B stream, decoded by ffmpeg's vvc"
    bitstream_suffix = ".vvc"
    encoder = "libvvenc"
    decoders = ("vvc",)
    raw_format = "vvc"
    library = "VVenC"
    version_pattern = r"libvvenc version: (\S+)"
    # libvvenc takes 10-bit input only; 8-bit samples are shifted up exactly and coded at 8 bits
    # (InternalBitDepth), so the stream itself says the source was 8-bit.
    encoder_pix_fmts = {8: "yuv420p10le", 10: "yuv420p10le"}
    qp_range = (0, 63)
    qp_ladder = (59, 55, 51, 47, 43, 39, 35, 31, 27)
    ra_gop = 32
    options_spec: ClassVar = {
        **common_options("medium", VVENC_PRESETS, ("qp", "bitrate"), "VVenC parameters"),
        "qpa": Option(
            False, "VVenC's perceptual QP adaptation (off: QP-driven like VTM, the usual 'VVC' anchor)", bool
        ),
    }

    def codec_args(self, rate: str, intra_period: str, bit_depth: str) -> list[str]:
        """``-preset``, ``-qp``/``-b:v``, ``-qpa`` and ``-vvenc-params`` for the GOP structure."""
        o = self.options
        args = ["-preset", o["preset"], "-qpa", "1" if o["qpa"] else "0"]
        args += ["-b:v", f"{rate}k"] if o["mode"] == "bitrate" else ["-qp", rate]
        params = [f"InternalBitDepth={bit_depth}", f"IntraPeriod={intra_period}"]
        if o["config"] == "ld":
            params += ["PicReordering=0", "DecodingRefreshType=none", "GOPSize=8"]
        else:
            params += ["PicReordering=1", "DecodingRefreshType=cra", f"GOPSize={self.ra_gop}"]
        if o["params"]:
            params.append(o["params"])
        return [*args, "-vvenc-params", ":".join(params)]
