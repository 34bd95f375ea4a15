"""The metric contract. Metrics are plugins in the entry-point group ``codecbench.metrics``.

A metric compares a reference clip with a decoded clip of the same format and frame count, both
raw YUV files on disk. ``kind="frame"`` metrics return one value per frame and a sequence value
(the mean, unless a metric says otherwise); ``kind="distribution"`` metrics (FID, KID) extract
features per sequence and reduce them over a whole dataset for each codec and rate point.
"""

from __future__ import annotations

import math
from abc import ABC
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from codecbench.errors import InputFormatError
from codecbench.options import Option, resolve_options
from codecbench.requirements import Availability, Requirement
from codecbench.video import Clip, Frame, VideoFormat


class Metric(ABC):
    """Base class of all metrics; see the module docstring for the two kinds."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: True for PSNR-like metrics, False for LPIPS/DISTS/FID-like ones (BD's sign, rankings).
    higher_is_better: ClassVar[bool] = True
    #: Plausible values (the leaderboard rejects submitted values outside it).
    value_range: ClassVar[tuple[float, float]] = (-math.inf, math.inf)
    #: "yuv" for metrics on planes, "rgb" for metrics on converted pictures.
    input: ClassVar[str] = "yuv"
    #: "frame" (per-frame values averaged over a sequence) or "distribution" (over a dataset).
    kind: ClassVar[str] = "frame"
    #: Unit of the values, shown on report axes and tables ("dB"); "" when unitless.
    unit: ClassVar[str] = ""
    #: Name shown to people (plot axes, report tables), e.g. "PSNR-Y"; empty means ``name``.
    display_name: ClassVar[str] = ""
    #: Place in reports and the leaderboard (smaller first); None lists it after those, by name.
    display_order: ClassVar[int | None] = None
    #: Smallest width and height the metric is defined on.
    min_size: ClassVar[tuple[int, int]] = (1, 1)
    #: True when a frame's value depends on that frame pair alone and the metric reads frames
    #: only through ``Clip.read()``, never modifying or keeping them: the harness then serves it
    #: frames read once for all such metrics, in chunks (codecbench.metrics.frames).
    frame_local: ClassVar[bool] = False
    options_spec: ClassVar[Mapping[str, Option]] = {}

    def __init__(self, **options: Any) -> None:
        self.options: dict[str, Any] = resolve_options(self.name, self.options_spec, options)

    def requirements(self) -> list[Requirement]:
        """Weights, binaries and devices this metric needs, and whether each is present."""
        return []

    def available(self) -> Availability:
        return Availability.of(self.requirements())

    def fits(self, fmt: VideoFormat) -> bool:
        """Whether the metric is defined for pictures of this size."""
        return fmt.width >= self.min_size[0] and fmt.height >= self.min_size[1]

    def evaluate(self, ref: Clip, dist: Clip) -> np.ndarray:
        """Per-frame values, one per frame of ``ref`` (frame metrics only).

        The default streams both clips and calls :meth:`frame_score` on each pair of frames.
        """
        if dist.format != ref.format or dist.frames != ref.frames:
            raise InputFormatError(
                f"{self.name}: cannot compare {dist.name} ({dist.format}, {dist.frames} frames) "
                f"with {ref.name} ({ref.format}, {ref.frames} frames)"
            )
        scores = [self.frame_score(r, d, ref.format) for r, d in zip(ref.read(), dist.read(), strict=True)]
        return np.asarray(scores, dtype=np.float64)

    def frame_score(self, ref: Frame, dist: Frame, fmt: VideoFormat) -> float:
        """Score of one pair of frames; frame metrics implement this or :meth:`evaluate`."""
        raise NotImplementedError(f"{self.name} implements neither evaluate nor frame_score")

    def summarize(self, per_frame: np.ndarray) -> float:
        """The sequence value from per-frame values: their mean."""
        return float(np.mean(per_frame))

    def features(self, ref: Clip, dist: Clip) -> dict[str, np.ndarray]:
        """Per-sequence features of a distribution metric, saved by the harness."""
        raise NotImplementedError(f"{self.name} is not a distribution metric")

    def aggregate(self, features: list[dict[str, np.ndarray]]) -> float:
        """Reduce the features of every sequence of a dataset to one value."""
        raise NotImplementedError(f"{self.name} is not a distribution metric")
