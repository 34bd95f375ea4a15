"""The DiV-INR file: a compact header, then the quantised weights range-coded with ``compressai.ans``.

Layout (little-endian)::

    b"DVIR" | version u8 | header length u32 | zlib(JSON header) | n x (step f32, scale f16, peak u16)
            | payload length u32 | CRC-32 u32 | payload

The JSON header holds the decoder's config (backbone id, revision, seed, INR size, ...), the source
format and the coded tensors' shapes; then, per tensor, 8 bytes: its step size (float32, so
dequantisation is exact), the float16 scale of its Laplacian model and its largest magnitude. The payload is one rANS
stream of every tensor's integers, each tensor under its own discretised Laplacian CDF; values
beyond the CDF's range are escaped by the coder's bypass mode. The CRC covers header and payload,
so a corrupt or truncated file raises :class:`~codecbench.errors.BitstreamError`.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from compressai._CXX import pmf_to_quantized_cdf
from compressai.ans import RansDecoder, RansEncoder

from codecbench import BitstreamError
from codecbench_divinr.quant import MIN_SCALE, laplace_pmf

MAGIC = b"DVIR"
#: 2: overlapping, blended windows with per-frame noise; steps per window; INR sized per clip.
VERSION = 2
PRECISION = 16
#: The CDF of a tensor spans at most this many integers each side of zero; the rest is escaped.
MAX_PEAK = 4096


@dataclass
class CodedTensor:
    """A tensor of integers with its step size and rate-model scale."""

    ints: np.ndarray
    step: float
    scale: float = 0.0

    def __post_init__(self) -> None:
        self.ints = np.asarray(self.ints, dtype=np.int64)
        self.step = float(np.float32(self.step))
        if not self.scale:
            self.scale = max(float(np.abs(self.ints).mean()) if self.ints.size else 0.0, MIN_SCALE)
        self.scale = float(np.float16(max(self.scale, MIN_SCALE)))

    @property
    def peak(self) -> int:
        return int(min(np.abs(self.ints).max(initial=0), MAX_PEAK))

    def dequantised(self) -> np.ndarray:
        """The weights the decoder uses: float32 ``step * ints``."""
        return np.float32(self.step) * self.ints.astype(np.float32)

    def model_bits(self) -> float:
        """Ideal code length of the integers under this tensor's model (bits)."""
        pmf = laplace_pmf(self.scale, self.peak)
        tail = max(1.0 - pmf.sum(), 1e-12)
        inside = np.abs(self.ints) <= self.peak
        p = np.where(inside, pmf[np.clip(self.ints + self.peak, 0, 2 * self.peak)], tail)
        return float(-np.log2(np.maximum(p, 1e-12)).sum())


@dataclass
class Payload:
    """Everything a DiV-INR file holds."""

    config: dict[str, Any]
    format: dict[str, Any]
    tensors: list[CodedTensor] = field(default_factory=list)
    shapes: list[list[int]] = field(default_factory=list)


def _cdf_table(models: list[tuple[float, int]]) -> tuple[list[list[int]], list[int], list[int]]:
    """Quantised CDFs, their lengths and offsets for (scale, peak) models, as compressai.ans takes them."""
    cdfs = []
    for scale, peak in models:
        pmf = laplace_pmf(scale, peak)
        tail = max(1.0 - float(pmf.sum()), 1e-9)
        cdfs.append(pmf_to_quantized_cdf([*pmf.tolist(), tail], PRECISION))
    return cdfs, [len(c) for c in cdfs], [-peak for _, peak in models]


#: Config fields only the encoder needs; they are left out of the header.
ENCODER_ONLY = ("steps", "warmup_steps", "lr", "lam", "regression_weight")
TABLE = struct.Struct("<feH")


def write(path: Path | str, payload: Payload) -> int:
    """Write ``payload`` to ``path``; returns the file size in bytes."""
    config = {k: v for k, v in payload.config.items() if k not in ENCODER_ONLY}
    shapes = payload.shapes or [list(t.ints.shape) for t in payload.tensors]
    header = {"config": config, "format": payload.format, "shapes": shapes}
    hdr = zlib.compress(json.dumps(header, separators=(",", ":"), sort_keys=True).encode(), 9)
    hdr += b"".join(TABLE.pack(t.step, t.scale, t.peak) for t in payload.tensors)
    cdfs, lengths, offsets = _cdf_table([(t.scale, t.peak) for t in payload.tensors])
    symbols: list[int] = []
    indexes: list[int] = []
    for i, t in enumerate(payload.tensors):
        flat = t.ints.reshape(-1).tolist()
        symbols += flat
        indexes += [i] * len(flat)
    data = RansEncoder().encode_with_indexes(symbols, indexes, cdfs, lengths, offsets) if symbols else b""
    crc = zlib.crc32(hdr + data)
    blob = MAGIC + struct.pack("<BI", VERSION, len(hdr)) + hdr + struct.pack("<II", len(data), crc) + data
    Path(path).write_bytes(blob)
    return len(blob)


def read(path: Path | str) -> Payload:
    """Parse a DiV-INR file; raises :class:`BitstreamError` if it is not one, corrupt or truncated."""
    try:
        blob = Path(path).read_bytes()
    except OSError as e:
        raise BitstreamError(f"cannot read bitstream {path}: {e}") from e
    if blob[:4] != MAGIC:
        raise BitstreamError(f"{path}: not a DiV-INR bitstream (bad magic)")
    try:
        version, hlen = struct.unpack_from("<BI", blob, 4)
        if version != VERSION:
            raise BitstreamError(
                f"{path}: bitstream version {version}, this decoder reads {VERSION} (re-encode the clip)"
            )
        hdr = blob[9 : 9 + hlen]
        dlen, crc = struct.unpack_from("<II", blob, 9 + hlen)
        data = blob[17 + hlen :]
    except struct.error as e:
        raise BitstreamError(f"{path}: truncated bitstream ({len(blob)} bytes)") from e
    if len(hdr) != hlen or len(data) != dlen:
        raise BitstreamError(f"{path}: truncated or padded bitstream ({len(blob)} bytes)")
    if zlib.crc32(hdr + data) != crc:
        raise BitstreamError(f"{path}: corrupt bitstream (CRC mismatch)")
    try:
        z = zlib.decompressobj()
        h = json.loads(z.decompress(hdr))
        table = z.unused_data
        shapes = [[int(d) for d in s] for s in h["shapes"]]
        if len(table) != TABLE.size * len(shapes):
            raise ValueError(f"{len(shapes)} tensors but a {len(table)}-byte table")
        rows = [TABLE.unpack_from(table, i * TABLE.size) for i in range(len(shapes))]
    except (zlib.error, ValueError, KeyError, TypeError, struct.error) as e:
        raise BitstreamError(f"{path}: unreadable header ({e})") from e
    cdfs, lengths, offsets = _cdf_table([(float(c), int(p)) for _, c, p in rows])
    sizes = [int(np.prod(s)) for s in shapes]
    indexes = [i for i, n in enumerate(sizes) for _ in range(n)]
    values = RansDecoder().decode_with_indexes(data, indexes, cdfs, lengths, offsets) if indexes else []
    tensors, pos = [], 0
    for shape, n, (step, scale, _) in zip(shapes, sizes, rows, strict=True):
        ints = np.asarray(values[pos : pos + n], dtype=np.int64).reshape(shape)
        tensors.append(CodedTensor(ints, step, scale))
        pos += n
    return Payload(h["config"], h["format"], tensors, shapes)
