"""What a report shows people besides the metrics' own names and units (:mod:`codecbench.metrics.info`):
the bpp axis title and a fixed colour per codec.

Colours depend on the codec label only, never on which other codecs a report holds, so a codec
keeps its colour from one report to the next: the well-known codecs have fixed colours, any other
label gets one from a hash of its name (SHA-256, not Python's per-process ``hash``).
"""

from __future__ import annotations

import hashlib

#: Title of every bpp axis.
BPP_TITLE = "bpp (bits per pixel)"


#: Twenty colours that stay apart from each other (Tableau 10, then ten darker ones).
PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
    "#e6550d", "#31a354", "#756bb1", "#636363",
)  # fmt: skip

#: Fixed colours of the codecs codecbench ships (and of their stand-in variants, ``name[...]``).
KNOWN_COLORS: dict[str, str] = {
    "hevc": PALETTE[0],
    "vvc": PALETTE[1],
    "av1": PALETTE[2],
    "divinr": PALETTE[3],
    "bmshj2018-factorized": PALETTE[4],
    "vtm": PALETTE[5],
    "bmshj2018-hyperprior": PALETTE[6],
    "mbt2018-mean": PALETTE[8],
    "hm": PALETTE[9],
    "mbt2018": PALETTE[10],
    "cheng2020-anchor": PALETTE[11],
    "cheng2020-attn": PALETTE[13],
    "ssf2020": PALETTE[14],
}


def codec_color(codec: str) -> str:
    """The colour of ``codec`` on its own: fixed for known codecs, else from a hash of the label."""
    if codec in KNOWN_COLORS:
        return KNOWN_COLORS[codec]
    base = codec.split("[", 1)[0]
    if base in KNOWN_COLORS:
        return KNOWN_COLORS[base]
    digest = hashlib.sha256(codec.encode("utf-8")).digest()
    return PALETTE[int.from_bytes(digest[:4], "big") % len(PALETTE)]


def codec_colors(codecs: list[str]) -> dict[str, str]:
    """A colour per codec label, each :func:`codec_color` unless two codecs of ``codecs`` would share
    one: then the later label (known names first, then alphabetical) takes the next free colour."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for codec in sorted(set(codecs), key=lambda c: (c not in KNOWN_COLORS, c)):
        start = PALETTE.index(codec_color(codec))
        free = [PALETTE[(start + k) % len(PALETTE)] for k in range(len(PALETTE))]
        color = next((c for c in free if c not in used), PALETTE[start])
        out[codec] = color
        used.add(color)
    return out
