"""Rate points of the anchors: a constant QP, a CRF value, or a target bitrate.

A target bitrate is written in kbit/s (``"250"``) or in bits per pixel (``"0.01bpp"``); bits per
pixel are turned into kbit/s with the clip's size and frame rate, so one ladder fits every resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

from codecbench import Clip, CodecbenchError

MODES = ("qp", "crf", "bitrate")
#: What a rate point means in each mode (the ``rate_parameter`` of results).
RATE_PARAMETERS = {"qp": "qp", "crf": "crf", "bitrate": "target_bitrate"}
#: Default target ladder of ``mode=bitrate``, lowest first: the extreme low-rate regime up to 0.1 bpp.
BPP_LADDER = ("0.003bpp", "0.006bpp", "0.012bpp", "0.025bpp", "0.05bpp", "0.1bpp")


@dataclass(frozen=True)
class RatePoint:
    """A parsed rate point: ``mode`` and its ``value`` (QP, CRF, kbit/s, or bits per pixel)."""

    mode: str
    value: float
    per_pixel: bool = False

    def kbps(self, clip: Clip) -> float:
        """Target bitrate in kbit/s for ``clip`` (bitrate mode only)."""
        if not self.per_pixel:
            return self.value
        return self.value * clip.format.pixels * clip.fps / 1000.0


def parse_rate_point(owner: str, mode: str, text: str, qp_range: tuple[int, int]) -> RatePoint:
    """Parse ``text`` for ``mode``; a bad value raises :class:`CodecbenchError` saying what is allowed."""
    raw = str(text).strip()
    try:
        if mode == "qp":
            qp = int(raw)
            if not qp_range[0] <= qp <= qp_range[1]:
                raise ValueError(f"outside {qp_range[0]}..{qp_range[1]}")
            return RatePoint(mode, float(qp))
        if mode == "crf":
            crf = float(raw)
            if not qp_range[0] <= crf <= qp_range[1]:
                raise ValueError(f"outside {qp_range[0]}..{qp_range[1]}")
            return RatePoint(mode, crf)
        if mode == "bitrate":
            per_pixel = raw.lower().endswith("bpp")
            value = float(raw[:-3] if per_pixel else raw.lower().removesuffix("k"))
            if not value > 0:
                raise ValueError("must be positive")
            return RatePoint(mode, value, per_pixel)
    except ValueError as e:
        hint = {
            "qp": f"an integer QP in {qp_range[0]}..{qp_range[1]}",
            "crf": f"a CRF value in {qp_range[0]}..{qp_range[1]}",
            "bitrate": "a target in kbit/s (e.g. 250) or bits per pixel (e.g. 0.01bpp)",
        }[mode]
        raise CodecbenchError(f"{owner}: rate point {text!r} is not {hint} ({e})") from None
    raise CodecbenchError(f"{owner}: unknown rate mode {mode!r}; known: {', '.join(MODES)}")
