"""The codec contract: every codec, built in or third-party, implements this small interface.

A codec turns a :class:`~codecbench.video.Clip` into one bitstream file and that file back into
frames. The harness measures the rate from the file's size and the quality from decoding it; a
codec never reports either. Codecs are found through the entry-point group ``codecbench.codecs``.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from codecbench.errors import CodecbenchError, UnsupportedInputError
from codecbench.options import Option, resolve_options
from codecbench.requirements import Availability, Requirement
from codecbench.video import Clip, Frame, VideoFormat

__all__ = ["Availability", "Codec", "Option", "Requirement"]


class Codec(ABC):
    """Base class of all codecs.

    Subclasses set the class attributes, declare their ``options`` and implement
    :meth:`encode` and :meth:`decode`. Options arrive already parsed in ``self.options``.
    """

    #: Registry name, as used on the command line (``--codecs NAME``).
    name: ClassVar[str]
    #: One line saying what the codec is.
    description: ClassVar[str] = ""
    #: What a rate point means for this codec ("qp", "quality", "lambda", "inr_size", ...).
    rate_parameter: ClassVar[str] = "rate_point"
    #: File suffix of the bitstreams it writes.
    bitstream_suffix: ClassVar[str] = ".bin"
    #: Settable options; users override them with ``--codec-opt NAME.KEY=VALUE`` or a config file.
    options_spec: ClassVar[Mapping[str, Option]] = {}
    #: Resources a job of this codec asks a scheduler for.
    resources: ClassVar[Mapping[str, float]] = {"cpu": 1.0}
    #: True when the codec cannot use more than one thread: its jobs then get a budget of 1.
    single_threaded: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        self.options: dict[str, Any] = resolve_options(self.name, self.options_spec, options)

    @property
    def label(self) -> str:
        """Name shown in results and reports; differs from ``name`` for stand-in configurations."""
        return self.name

    @classmethod
    def is_stand_in_label(cls, label: str) -> bool:
        """Whether results labelled ``label`` come from a stand-in (a fallback model, not the codec as
        published, e.g. ``divinr[mini]``); reports and the leaderboard mark them. Default: never."""
        return False

    @property
    def version(self) -> str:
        """Version string of the implementation (library and encoder versions)."""
        return "unversioned"

    def config(self) -> dict[str, Any]:
        """Everything that determines the bitstream, recorded as JSON with every result."""
        return dict(self.options)

    def config_json(self) -> str:
        return json.dumps(self.config(), sort_keys=True, default=str)

    @abstractmethod
    def default_rate_points(self) -> list[str]:
        """The default ladder, from the lowest rate to the highest."""

    def check_rate_point(self, rate_point: str) -> None:
        """Raise :class:`~codecbench.errors.CodecbenchError` if ``rate_point`` is not valid."""
        if not str(rate_point).strip():
            raise CodecbenchError(f"{self.name}: empty rate point")

    def requirements(self) -> list[Requirement]:
        """What this codec needs (binaries, weights, devices) and whether each is present."""
        return []

    def available(self) -> Availability:
        """Whether the codec can run here; when not, exactly what is missing."""
        return Availability.of(self.requirements())

    def check_format(self, fmt: VideoFormat) -> None:
        """Raise :class:`UnsupportedInputError` when the codec cannot take ``fmt``."""
        if fmt.chroma != "420":
            raise UnsupportedInputError(f"{self.name} takes 4:2:0 video only, got {fmt}")

    @abstractmethod
    def encode(self, clip: Clip, rate_point: str, workdir: Path) -> Path:
        """Encode ``clip`` at ``rate_point``; return the path of one bitstream file inside ``workdir``.

        The file must hold every byte the decoder needs, and nothing else.
        """

    def encode_details(self) -> dict[str, Any]:
        """Facts about the last :meth:`encode` worth keeping with its result (e.g. the exact command).

        Stored in the job's record, never used as the rate.
        """
        return {}

    @abstractmethod
    def decode(self, bitstream: Path, workdir: Path) -> Iterator[Frame]:
        """Decode a bitstream written by :meth:`encode`, yielding frames in the source's format."""
