"""Reading YUV4MPEG2 streams, the self-describing raw format decoders write to a pipe.

Decoders write Y4M rather than headerless YUV so that the picture size and bit depth come from the
bitstream (through the decoder), never from side information the harness would have to pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from codecbench import BitstreamError, Frame, InputFormatError, VideoFormat

MAGIC = b"YUV4MPEG2"
#: Y4M colour-space tags of 4:2:0 layouts and their bit depth; other layouts are refused.
CHROMA_TAGS = {"420": 8, "420jpeg": 8, "420mpeg2": 8, "420paldv": 8, "420p10": 10}
MAX_HEADER = 4096


def _read_line(stream: BinaryIO, what: str) -> bytes:
    line = stream.readline(MAX_HEADER)
    if line and not line.endswith(b"\n"):
        raise BitstreamError(f"Y4M {what} line is longer than {MAX_HEADER} bytes or truncated")
    return line


def parse_header(line: bytes) -> VideoFormat:
    """The format described by a Y4M stream header line (``YUV4MPEG2 W.. H.. C..``)."""
    fields = line.split()
    if not fields or fields[0] != MAGIC:
        raise BitstreamError(f"not a YUV4MPEG2 stream (header starts {line[:20]!r})")
    tags = {f[:1].decode("ascii", "replace"): f[1:].decode("ascii", "replace") for f in fields[1:]}
    try:
        width, height = int(tags["W"]), int(tags["H"])
    except (KeyError, ValueError):
        raise BitstreamError(f"Y4M header without a valid size: {line!r}") from None
    chroma = tags.get("C", "420jpeg")
    if chroma not in CHROMA_TAGS:
        raise BitstreamError(f"decoded pictures are {chroma!r}; only 4:2:0 8-bit or 10-bit is supported")
    try:
        return VideoFormat(width, height, CHROMA_TAGS[chroma], "420")
    except InputFormatError as e:
        raise BitstreamError(f"decoded pictures have an unusable format: {e}") from e


def read_y4m(stream: BinaryIO) -> Iterator[tuple[VideoFormat, Frame]]:
    """Yield ``(format, frame)`` for each frame of a Y4M stream, reading one frame at a time."""
    header = _read_line(stream, "header")
    if not header:
        return
    fmt = parse_header(header)
    shapes = fmt.plane_shapes
    sizes = [h * w * fmt.bytes_per_sample for h, w in shapes]
    index = 0
    while True:
        marker = _read_line(stream, "frame")
        if not marker:
            return
        if not marker.startswith(b"FRAME"):
            raise BitstreamError(f"Y4M frame {index} does not start with FRAME: {marker[:20]!r}")
        planes = []
        for (h, w), n in zip(shapes, sizes, strict=True):
            data = stream.read(n)
            if len(data) != n:
                raise BitstreamError(f"Y4M stream ended inside frame {index}")
            planes.append(np.frombuffer(data, dtype=fmt.dtype).reshape(h, w))
        yield fmt, Frame(*planes)
        index += 1
