"""A dataset made of a folder of raw YUV files named ``Name_WIDTHxHEIGHT_FPS[_10bit].yuv``."""

from __future__ import annotations

import re
from pathlib import Path

from codecbench.datasets.base import Dataset, SequenceInfo
from codecbench.errors import CodecbenchError
from codecbench.video import VideoFormat, frame_count

NAME_PATTERN = re.compile(
    r"^(?P<name>.+?)_(?P<w>\d+)x(?P<h>\d+)_(?P<fps>\d+(?:\.\d+)?)(?:fps)?(?P<b10>_10bit)?\.yuv$"
)


def parse_name(filename: str) -> tuple[str, int, int, float, int] | None:
    """``(name, width, height, fps, bit_depth)`` from a conforming file name, else None."""
    m = NAME_PATTERN.match(filename)
    if not m:
        return None
    return m["name"], int(m["w"]), int(m["h"]), float(m["fps"]), 10 if m["b10"] else 8


def folder_dataset(path: Path | str) -> Dataset:
    """Scan ``path`` for conforming YUV files; each becomes a sequence with all of its frames."""
    root = Path(path)
    if not root.is_dir():
        raise CodecbenchError(f"dataset folder {root} does not exist or is not a folder")
    sequences, ignored = [], []
    for f in sorted(root.iterdir()):
        if f.suffix != ".yuv":
            continue
        parsed = parse_name(f.name)
        if parsed is None:
            ignored.append(f.name)
            continue
        name, w, h, fps, depth = parsed
        n = frame_count(f, VideoFormat(w, h, depth))
        sequences.append(SequenceInfo(name, w, h, fps, n, depth, filename=f.name, source=str(f)))
    if not sequences:
        hint = f" (ignored, not named Name_WxH_FPS[_10bit].yuv: {', '.join(ignored)})" if ignored else ""
        raise CodecbenchError(f"no YUV sequences named Name_WIDTHxHEIGHT_FPS[_10bit].yuv in {root}{hint}")
    names = [s.name for s in sequences]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CodecbenchError(f"{root}: several files give the sequence name(s) {', '.join(dupes)}")
    return Dataset(
        name=root.name or "folder",
        description=f"raw YUV files in {root}",
        sequences=tuple(sequences),
        meta={"root": str(root), "ignored": ignored},
    )
