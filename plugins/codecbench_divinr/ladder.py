"""The rate ladder in bits per pixel: each rate point sizes the INR to the clip it codes.

A rate point names a target payload rate (bits per pixel of the whole clip, pixels x frames) and a
rate weight λ. The INR gets as many parameters as that rate buys at :data:`BITS_PER_PARAM` bits
each, so ``l`` means about the same bpp on a 16-frame 384x256 sample and on 600 frames of 1080p
(plus the header's fixed :data:`HEADER_BITS`: about 0.003 bpp on the sample, nothing at 1080p): the INR grows with the resolution and the clip's length, and
its time encoding gets enough frequencies to tell consecutive frames apart. Rates in results
still come from the bytes on disk; the sizing only decides how large a model is fitted.

``python -m codecbench_divinr.ladder --width 1920 --height 1080 --frames 600`` prints, per rate
point, the INR's parameters and the bpp its size predicts (a tidy table; ``--csv`` writes it).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass

from codecbench import CodecbenchError
from codecbench_divinr.config import InrSize
from codecbench_divinr.encoder import latent_hw


@dataclass(frozen=True)
class RatePoint:
    """A point of the ladder: target payload bits per pixel and the rate weight λ (per bpp)."""

    bpp: float
    lam: float


#: The default ladder, lowest rate first: doublings over the paper's 0.003-0.05 bpp range.
LADDER: dict[str, RatePoint] = {
    "xs": RatePoint(0.003, 2.0),
    "s": RatePoint(0.006, 2.0),
    "m": RatePoint(0.012, 2.0),
    "l": RatePoint(0.024, 2.0),
}
#: Higher points, not defaults: the top of the paper's range, and twice that.
EXTRA: dict[str, RatePoint] = {"xl": RatePoint(0.048, 2.0), "xxl": RatePoint(0.096, 2.0)}

#: Coded bits per INR parameter at λ = 2 (payload only): 3.17 measured on the ``mini`` prior,
#: rate point ``l`` of the ladder before this one, Office of the ``natural`` set (14,416
#: parameters in 5,720 payload bytes). The size of a model, not a promise of its file.
BITS_PER_PARAM = 3.2
#: Bits of a file that do not grow with the INR (magic, version, zlib JSON header, CRC, and
#: 8 bytes of step/scale/peak per coded tensor): 4,552 in that same file.
HEADER_BITS = 4600
#: Channel profile of the INR's blocks (stem, then 4 up-sampling blocks), scaled by one width.
PROFILE = (1.0, 1.0, 2 / 3, 2 / 3, 1 / 2)
#: Nominal latent channels of the head when counting parameters (SVD's 4; ``mini`` has 16).
NOMINAL_LATENT_CHANNELS = 4
MIN_FREQS = 8


def parse_rate_point(rate_point: str) -> RatePoint:
    """``"m"`` or ``"m@0.5"`` -> its :class:`RatePoint` (λ overridden by the suffix)."""
    name, _, lam = str(rate_point).partition("@")
    known = {**LADDER, **EXTRA}
    if name not in known:
        raise CodecbenchError(
            f"divinr: rate point {rate_point!r} must be one of {list(known)}, optionally @lambda (e.g. m@5)"
        )
    point = known[name]
    try:
        value = float(lam) if lam else point.lam
    except ValueError:
        raise CodecbenchError(f"divinr: rate point {rate_point!r}: lambda {lam!r} is not a number") from None
    if value < 0:
        raise CodecbenchError(f"divinr: rate point {rate_point!r}: lambda must be >= 0")
    return RatePoint(point.bpp, value)


def freqs_for(frames: int) -> int:
    """Time-encoding frequencies for a ``frames``-frame clip: the highest band, 1.25**(L-1)*pi over
    times 0..1, turns by about a quarter period between consecutive frames (at least :data:`MIN_FREQS`)."""
    if frames < 3:
        return MIN_FREQS
    return max(MIN_FREQS, 1 + math.ceil(math.log((frames - 1) / 2) / math.log(1.25)))


def inr_params(
    size: InrSize, latent_hw: tuple[int, int], latent_channels: int = NOMINAL_LATENT_CHANNELS
) -> int:
    """Parameters of a :class:`~codecbench_divinr.inr.NervInr` of ``size`` (counted without building it)."""
    ups = len(size.channels) - 1
    cells = math.ceil(latent_hw[0] / 2**ups) * math.ceil(latent_hw[1] / 2**ups)
    c = size.channels
    n = (2 * size.freqs + 1) * size.stem + (size.stem + 1) * c[0] * cells
    n += sum(9 * a * 4 * b + 4 * b for a, b in zip(c[:-1], c[1:]))
    return n + (c[-1] + 1) * latent_channels


def sized(width: int, freqs: int) -> InrSize:
    """The INR of one ``width`` along :data:`PROFILE` (stem 4/3 of it, every layer at least 2)."""
    return InrSize(
        freqs=freqs,
        stem=max(8, round(4 * width / 3)),
        channels=tuple(max(2, round(width * r)) for r in PROFILE),
    )


def inr_for(point: RatePoint, width: int, height: int, frames: int) -> InrSize:
    """The largest INR along :data:`PROFILE` whose predicted payload fits ``point.bpp`` for this clip."""
    hw = latent_hw(width, height)
    budget = point.bpp * width * height * frames / BITS_PER_PARAM
    freqs = freqs_for(frames)
    lo, hi = 1, 2
    while inr_params(sized(hi, freqs), hw) <= budget:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if inr_params(sized(mid, freqs), hw) <= budget else (lo, mid)
    return sized(lo, freqs)


def predicted_bpp(size: InrSize, width: int, height: int, frames: int) -> float:
    """The bpp an INR of ``size`` predicts for the clip: its parameters at :data:`BITS_PER_PARAM`, plus the header."""
    hw = latent_hw(width, height)
    return (inr_params(size, hw) * BITS_PER_PARAM + HEADER_BITS) / (width * height * frames)


def ladder_table(width: int, height: int, frames: int, names: list[str] | None = None) -> list[dict]:
    """One row per rate point: target, INR size, parameters and predicted bpp for a clip of this shape."""
    rows = []
    for name in names or [*LADDER, *EXTRA]:
        point = parse_rate_point(name)
        size = inr_for(point, width, height, frames)
        rows.append(
            {
                "rate_point": name,
                "default": name in LADDER,
                "width": width,
                "height": height,
                "frames": frames,
                "target_bpp": point.bpp,
                "freqs": size.freqs,
                "stem": size.stem,
                "channels": "/".join(map(str, size.channels)),
                "params": inr_params(size, latent_hw(width, height)),
                "predicted_bpp": round(predicted_bpp(size, width, height, frames), 5),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print (or write with ``--csv``) the ladder for a clip shape."""
    ap = argparse.ArgumentParser(
        prog="python -m codecbench_divinr.ladder", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--csv", help="write the table to this CSV file")
    a = ap.parse_args(argv)
    if min(a.width, a.height, a.frames) < 1:
        print("error: width, height and frames must be >= 1", file=sys.stderr)
        return 2
    import pandas as pd

    table = pd.DataFrame(ladder_table(a.width, a.height, a.frames))
    if a.csv:
        table.to_csv(a.csv, index=False)
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
