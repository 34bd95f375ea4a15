"""Dataset and sequence metadata, and how a dataset's files on disk become :class:`Clip` objects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from codecbench.errors import CodecbenchError, InputFormatError, UnknownNameError
from codecbench.video import Clip, VideoFormat, frame_count


@dataclass(frozen=True)
class SequenceInfo:
    """Published metadata of one test sequence and the raw file name it is expected under."""

    name: str
    width: int
    height: int
    fps: float
    frames: int
    bit_depth: int = 8
    chroma: str = "420"
    filename: str = ""  # raw YUV file name relative to the dataset root
    source: str = ""  # where the sequence comes from (URL or description)
    sha256: str | None = None  # checksum of the raw file, where published
    md5: str | None = None

    @property
    def format(self) -> VideoFormat:
        return VideoFormat(self.width, self.height, self.bit_depth, self.chroma)

    @property
    def file(self) -> str:
        return self.filename or f"{self.name}_{self.width}x{self.height}_{self.fps:g}.yuv"


@dataclass(frozen=True)
class Download:
    """One publicly downloadable file (an archive or a raw sequence) of a dataset."""

    url: str
    filename: str
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    #: Sequence names this file provides (after extraction when it is an archive).
    sequences: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dataset:
    """A named set of sequences: their metadata, licence and where to get them."""

    name: str
    description: str
    sequences: tuple[SequenceInfo, ...]
    homepage: str = ""
    license: str = ""
    #: Files that ``codecbench datasets fetch`` may download; empty for licensed sets.
    downloads: tuple[Download, ...] = ()
    #: For licensed sets: where to get the files and where to put them.
    instructions: str = ""
    meta: dict = field(default_factory=dict, compare=False, hash=False)
    #: For a set made on this machine on first use (no download, no --root): builds it once and
    #: returns its folder.
    build: Callable[[], Path] | None = field(default=None, compare=False, hash=False)

    @property
    def public(self) -> bool:
        return bool(self.downloads)

    def sequence(self, name: str) -> SequenceInfo:
        for s in self.sequences:
            if s.name == name:
                return s
        raise UnknownNameError("sequence", name, [s.name for s in self.sequences])

    def select(self, names: list[str] | None) -> list[SequenceInfo]:
        """The sequences named (in the given order), or all of them."""
        return list(self.sequences) if not names else [self.sequence(n) for n in names]

    def clips(self, root: Path, frames: int | None = None, names: list[str] | None = None) -> list[Clip]:
        """Clips of the selected sequences found under ``root``; missing or malformed files are an error."""
        chosen = self.select(names)
        missing = [s.file for s in chosen if not (Path(root) / s.file).is_file()]
        if missing:
            how = self.instructions or f"run: codecbench datasets fetch {self.name} --root {root}"
            raise CodecbenchError(
                f"dataset {self.name!r}: {len(missing)} sequence file(s) missing under {root}: "
                f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}\n{how}"
            )
        out = []
        for s in chosen:
            path = Path(root) / s.file
            n = frame_count(path, s.format)
            if n < s.frames:
                raise InputFormatError(f"{path}: has {n} frames, dataset {self.name!r} says {s.frames}")
            clip = Clip(s.name, path, s.format, s.fps, s.frames, self.name, meta={"source": s.source})
            out.append(clip.limited(frames))
        return out
