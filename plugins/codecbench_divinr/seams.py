"""The window-seam measure: is a decoded clip less continuous where diffusion windows meet?

For each pair of consecutive frames it takes the PSNR-Y between them (frame-to-frame PSNR) in the
decoded clip and in the source. A pair is a *seam* when its two frames are covered by different
sets of windows (without overlap: the last frame of a window and the first of the next; with
overlap: entering and leaving each blended stretch), else *inside*. Motion lowers frame-to-frame
PSNR everywhere, so the measure compares the decoded clip's seam-vs-inside gap with the source's::

    python -m codecbench_divinr.seams SOURCE.yuv --overlap 0,2 --rate-point l --out seams.csv

encodes and decodes the clip once per overlap (``divinr`` with the given options) and prints the
summary: mean frame-to-frame PSNR-Y at seams and inside, decoded and source, and the seam drop
``(inside - seam)_decoded - (inside - seam)_source`` in dB (0: seams are as smooth as the rest).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from codecbench import Clip, CodecbenchError, VideoFormat, frame_count, plane_psnr
from codecbench_divinr.sampler import windows


def seam_pairs(ranges: Sequence[range], frames: int) -> list[bool]:
    """For each pair (i, i+1), whether it is a seam: its frames lie in different sets of windows."""
    cover = [frozenset(k for k, r in enumerate(ranges) if i in r) for i in range(frames)]
    return [cover[i] != cover[i + 1] for i in range(frames - 1)]


def seam_table(
    decoded: Sequence[np.ndarray], source: Sequence[np.ndarray], ranges: Sequence[range], max_value: int = 255
) -> pd.DataFrame:
    """Tidy rows (pair, seam, series, psnr_y): frame-to-frame PSNR-Y of ``decoded`` and ``source`` Y planes."""
    if len(decoded) != len(source):
        raise CodecbenchError(f"{len(decoded)} decoded frames against {len(source)} source frames")
    seams = seam_pairs(ranges, len(source))
    rows = []
    for name, planes in (("decoded", decoded), ("source", source)):
        for i, seam in enumerate(seams):
            rows.append((i, seam, name, plane_psnr(planes[i], planes[i + 1], max_value)))
    return pd.DataFrame(rows, columns=["pair", "seam", "series", "psnr_y"])


def seam_summary(table: pd.DataFrame) -> dict[str, float]:
    """Mean frame-to-frame PSNR-Y at seams and inside, decoded and source, and the seam drop in dB."""
    capped = table.assign(psnr_y=table.psnr_y.clip(upper=100.0))  # identical frames: inf -> 100 dB
    means = capped.groupby(["series", "seam"]).psnr_y.mean()
    out = {f"{series}_{'seam' if seam else 'inside'}": float(v) for (series, seam), v in means.items()}
    if all(k in out for k in ("decoded_seam", "decoded_inside", "source_seam", "source_inside")):
        gap = (out["decoded_inside"] - out["decoded_seam"]) - (out["source_inside"] - out["source_seam"])
        out["seam_drop_db"] = gap
    out["seams"] = int(table[table["series"] == "source"].seam.sum())
    return out


def measure(clip: Clip, rate_point: str, overlap: int, options: dict[str, str]) -> pd.DataFrame:
    """Encode and decode ``clip`` with ``divinr`` at ``overlap``; its :func:`seam_table`."""
    from codecbench_divinr import bitstream
    from codecbench_divinr.codec import DivInrCodec

    codec = DivInrCodec(**{**options, "overlap": str(overlap)})
    with tempfile.TemporaryDirectory() as work:
        path = codec.encode(clip, rate_point, Path(work))
        cfg = bitstream.read(path).config
        decoded = [f.y for f in codec.decode(path, Path(work))]
    ranges = windows(clip.frames, int(cfg["window"]), int(cfg["overlap"]))
    table = seam_table(decoded, [f.y for f in clip.read()], ranges, clip.format.max_value)
    return table.assign(overlap=overlap, rate_point=rate_point, sequence=clip.name)


def main(argv: list[str] | None = None) -> int:
    """Measure the seams of one YUV clip at each overlap; print the summary, write the rows."""
    ap = argparse.ArgumentParser(prog="python -m codecbench_divinr.seams", description=__doc__.split("\n")[0])
    ap.add_argument("source", type=Path, help="raw YUV 4:2:0 file named Name_WxH_FPS.yuv (or give --size)")
    ap.add_argument("--size", help="WxH when the file name does not say it")
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--frames", type=int, help="first N frames only")
    ap.add_argument("--overlap", default="0,2", help="comma-separated overlaps to compare")
    ap.add_argument("--rate-point", default="l")
    ap.add_argument("--codec-opt", action="append", default=[], help="divinr option KEY=VALUE (repeatable)")
    ap.add_argument("--out", type=Path, help="write the tidy rows to this CSV")
    a = ap.parse_args(argv)
    try:
        clip = _clip(a.source, a.size, a.fps, a.frames)
        options = dict(kv.split("=", 1) for kv in a.codec_opt)
        options.setdefault("progress", "false")
        tables = [measure(clip, a.rate_point, int(o), options) for o in a.overlap.split(",")]
    except (CodecbenchError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    table = pd.concat(tables, ignore_index=True)
    if a.out:
        table.to_csv(a.out, index=False)
    for overlap, part in table.groupby("overlap"):
        s = seam_summary(part)
        print(
            f"overlap {overlap}: "
            + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in s.items())
        )
    return 0


def _clip(path: Path, size: str | None, fps: float, frames: int | None) -> Clip:
    """A :class:`Clip` of a raw 8-bit YUV 4:2:0 file, its size from ``size`` or its name (Name_WxH...)."""
    import re

    match = re.search(r"(\d+)x(\d+)", size or path.name)
    if not match:
        raise CodecbenchError(f"{path}: give --size WxH (the name does not say it)")
    fmt = VideoFormat(int(match[1]), int(match[2]))
    if not path.is_file():
        raise CodecbenchError(f"{path}: no such file")
    total = frame_count(path, fmt)
    if total < 2:
        raise CodecbenchError(f"{path}: fewer than 2 frames of {fmt}")
    return Clip(path.stem.split("_")[0], path, fmt, fps, min(total, frames or total))


if __name__ == "__main__":
    sys.exit(main())
