"""The file format of the CompressAI codecs: a small header, then one packet per coded frame, then a CRC.

Layout (little-endian)::

    magic "CBCA" | version u8 | model name (u8 length + ASCII) | metric u8 | quality u8
    | frames u32 | width u16 | height u16 | bit depth u8 | matrix u8
    | padded width u16 | padded height u16 | GOP u16 | batch u16 | weights fingerprint 4 bytes
    | packet * frames | CRC-32 of everything before it (u32)

A packet is the output of one ``compress()`` call for one frame: a list of *parts* (one for an image
model or an intra frame, two for a P frame: motion and residual), each part a list of entropy-coded
strings and the latent shape the decoder needs. Counts and lengths are LEB128 varints, so a tiny
frame pays a few bytes of framing, not tens.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from codecbench import BitstreamError

MAGIC = b"CBCA"
VERSION = 1
METRICS = ("mse", "ms-ssim")
MATRICES = ("bt601", "bt709")

_FIXED = struct.Struct("<BBIHHBBHHHH4s")


@dataclass(frozen=True)
class Part:
    """Entropy-coded strings of one latent (with its hyper-latent) and the shape to decode it."""

    strings: tuple[bytes, ...]
    shape: tuple[int, ...]


Packet = list[Part]


@dataclass(frozen=True)
class Header:
    """Everything the decoder needs besides the packets."""

    model: str
    metric: str
    quality: int
    frames: int
    width: int
    height: int
    bit_depth: int
    matrix: str
    padded_width: int
    padded_height: int
    gop: int
    batch: int
    weights: bytes

    def pack(self) -> bytes:
        name = self.model.encode("ascii")
        if len(name) > 255:
            raise ValueError(f"model name too long: {self.model!r}")
        fixed = _FIXED.pack(
            METRICS.index(self.metric),
            self.quality,
            self.frames,
            self.width,
            self.height,
            self.bit_depth,
            MATRICES.index(self.matrix),
            self.padded_width,
            self.padded_height,
            self.gop,
            self.batch,
            self.weights,
        )
        return MAGIC + bytes([VERSION, len(name)]) + name + fixed


def _varint(n: int) -> bytes:
    if n < 0:
        raise ValueError(f"varint of a negative number {n}")
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pack_packet(packet: Packet) -> bytes:
    """Serialise one frame's parts: counts, string lengths and latent shapes as varints."""
    out = bytearray(_varint(len(packet)))
    for part in packet:
        out += _varint(len(part.strings))
        for s in part.strings:
            out += _varint(len(s)) + s
        out += _varint(len(part.shape))
        for d in part.shape:
            out += _varint(int(d))
    return bytes(out)


class BitstreamWriter:
    """Writes the header, then packets as they come, then the CRC on :meth:`close`."""

    def __init__(self, f: BinaryIO, header: Header) -> None:
        self._f = f
        self._crc = 0
        self.packets = 0
        self._write(header.pack())

    def _write(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)
        self._f.write(data)

    def write(self, packet: Packet) -> None:
        self._write(pack_packet(packet))
        self.packets += 1

    def close(self) -> None:
        self._f.write(struct.pack("<I", self._crc))


class _Reader:
    """Bounds-checked reads from the bytes of a file; running off the end is a truncation."""

    def __init__(self, data: bytes, source: str) -> None:
        self._buf = io.BytesIO(data)
        self.source = source

    def take(self, n: int, what: str) -> bytes:
        b = self._buf.read(n)
        if len(b) != n:
            raise BitstreamError(f"{self.source}: truncated (file ended inside {what})")
        return b

    def varint(self, what: str) -> int:
        n = shift = 0
        while True:
            byte = self.take(1, what)[0]
            n |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return n
            shift += 7
            if shift > 63:
                raise BitstreamError(f"{self.source}: corrupt (runaway length in {what})")

    @property
    def left(self) -> int:
        return len(self._buf.getbuffer()) - self._buf.tell()


def read_bitstream(data: bytes, source: str = "bitstream") -> tuple[Header, list[Packet]]:
    """Parse and check a whole file: magic, version, CRC, header fields and every packet."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise BitstreamError(f"{source}: not a codecbench CompressAI bitstream (bad magic)")
    if len(data) < len(MAGIC) + 2 + _FIXED.size + 4:
        raise BitstreamError(f"{source}: truncated ({len(data)} bytes is shorter than a header)")
    body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
    r = _Reader(body, source)
    r.take(len(MAGIC), "the magic")
    version, name_len = r.take(2, "the header")
    if version != VERSION:
        raise BitstreamError(f"{source}: format version {version}, this decoder reads version {VERSION}")
    if zlib.crc32(body) != crc:
        raise BitstreamError(f"{source}: corrupt or truncated (CRC mismatch)")
    try:
        model = r.take(name_len, "the model name").decode("ascii")
        fields = _FIXED.unpack(r.take(_FIXED.size, "the header"))
        metric_i, quality, frames, w, h, depth, matrix_i, pw, ph, gop, batch, weights = fields
        header = Header(
            model, METRICS[metric_i], quality, frames, w, h, depth, MATRICES[matrix_i],
            pw, ph, gop, batch, weights,
        )  # fmt: skip
    except (UnicodeDecodeError, IndexError) as e:
        raise BitstreamError(f"{source}: corrupt header ({e})") from None
    if frames == 0 or batch == 0 or pw < w or ph < h:
        raise BitstreamError(f"{source}: corrupt header (frames={frames} batch={batch} {w}x{h} in {pw}x{ph})")
    packets = []
    for i in range(frames):
        what = f"frame {i}"
        packet = []
        for _ in range(r.varint(what)):
            strings = tuple(r.take(r.varint(what), what) for _ in range(r.varint(what)))
            shape = tuple(r.varint(what) for _ in range(r.varint(what)))
            packet.append(Part(strings, shape))
        packets.append(packet)
    if r.left:
        raise BitstreamError(f"{source}: corrupt ({r.left} bytes after the last of {frames} frames)")
    return header, packets
