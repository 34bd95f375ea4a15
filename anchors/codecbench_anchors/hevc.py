"""HEVC through libx265 in ffmpeg, written as a raw Annex-B elementary stream."""

from __future__ import annotations

from typing import ClassVar

from codecbench import Option
from codecbench_anchors.ffmpeg_codec import FIRST_ONLY, FFmpegCodec, common_options
from codecbench_anchors.rates import MODES

X265_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo",
)  # fmt: skip


class HEVC(FFmpegCodec):
    """x265; ``config=ld`` is the learned-video papers' command (``-tune zerolatency``, constant QP)."""

    name = "hevc"
    description = "HEVC/H.265 by x265 (ffmpeg libx265), raw Annex-B stream, decoded by ffmpeg's hevc"
    bitstream_suffix = ".hevc"
    encoder = "libx265"
    decoders = ("hevc",)
    raw_format = "hevc"
    library = "x265"
    version_pattern = r"HEVC encoder version (\S+)"
    qp_range = (0, 51)
    qp_ladder = (51, 48, 45, 42, 39, 36, 33, 30, 27)
    crf_ladder = (51, 48, 45, 42, 39, 36, 33, 30, 27)
    ra_gop = 8
    options_spec: ClassVar = {
        **common_options("veryslow", X265_PRESETS, MODES, "x265 parameters"),
        "frame_threads": Option(
            1, "x265 frame threads; 1 keeps the bitstream independent of the machine's core count", int
        ),
    }

    def codec_args(self, rate: str, intra_period: str, bit_depth: str) -> list[str]:
        """``-preset``, ``-tune`` for low delay, and one ``-x265-params`` list holding the rest."""
        o = self.options
        args = ["-preset", o["preset"]]
        if intra_period == str(FIRST_ONLY):
            params = ["keyint=-1"]
        else:
            params = [f"keyint={intra_period}", f"min-keyint={intra_period}"]
        params += ["scenecut=0", f"frame-threads={o['frame_threads']}", "info=0"]
        if o["config"] == "ld":
            args += ["-tune", "zerolatency"]
            params += ["bframes=0"]
        else:
            params += ["bframes=7", "b-adapt=0", "b-pyramid=1"]
            if o["preset"] == "ultrafast":  # its 5-frame look-ahead is shorter than the GOP
                params.append("rc-lookahead=8")
        if o["mode"] == "bitrate":
            args += ["-b:v", f"{rate}k"]
        else:
            params.insert(0, f"{o['mode']}={rate}")
        if o["params"]:
            params.append(o["params"])
        return [*args, "-x265-params", ":".join(params)]

    def with_threads(self, args: list[str], threads: int) -> list[str]:
        """x265's worker pool size joins its parameters (``pools``); frame threads stay as configured."""
        at = args.index("-x265-params") + 1
        return [*args[:at], f"{args[at]}:pools={threads}", *args[at + 1 :], "-threads", str(threads)]
