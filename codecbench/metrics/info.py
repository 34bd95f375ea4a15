"""What a metric is, as the rest of codecbench needs to know it: from the metric's own class.

A metric plugin declares its direction, plausible range, unit, display name and display order
on its :class:`~codecbench.metrics.base.Metric` subclass; BD (``codecbench bd``), the report and
the leaderboard read them here and nowhere else, so a third-party metric works everywhere
without edits to codecbench. A column whose plugin is not installed (or fails to load) is shown
under its own name, without unit, range or known direction.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from codecbench.errors import CodecbenchError


@dataclass(frozen=True)
class MetricInfo:
    """How a metric column is read and shown."""

    name: str
    display: str
    unit: str = ""
    #: True when larger values are better; None when the metric is not installed here.
    higher_is_better: bool | None = None
    #: Plausible values, ``(-inf, inf)`` when unknown.
    value_range: tuple[float, float] = (-math.inf, math.inf)
    #: Place among the metrics of a report or leaderboard; None: after those that have one.
    order: int | None = None

    @property
    def title(self) -> str:
        """Axis title: ``PSNR-Y (dB)``, or ``VMAF`` for a unitless metric."""
        return f"{self.display} ({self.unit})" if self.unit else self.display


@functools.lru_cache(maxsize=256)
def metric_info(metric: str) -> MetricInfo:
    """The descriptor of ``metric`` from its plugin; its bare name when the plugin is not installed."""
    from codecbench import registry

    try:
        cls = registry.metric_class(metric)
    except CodecbenchError:
        return MetricInfo(metric, metric)
    low, high = cls.value_range
    return MetricInfo(
        metric,
        str(cls.display_name or metric),
        str(cls.unit or ""),
        bool(cls.higher_is_better),
        (float(low), float(high)),
        cls.display_order,
    )


def higher_is_better(metric: str) -> bool:
    """Whether larger values of ``metric`` are better, as its plugin declares."""
    higher = metric_info(metric).higher_is_better
    if higher is None:
        raise CodecbenchError(
            f"cannot tell whether higher or lower {metric!r} is better: it is not a registered metric; "
            "pass the direction explicitly (--direction higher|lower)"
        )
    return higher


def ordered(metrics: Iterable[str]) -> list[str]:
    """``metrics`` in display order: by the plugins' ``display_order``, then alphabetically."""

    def key(metric: str) -> tuple[bool, int, str]:
        order = metric_info(metric).order
        return order is None, order or 0, metric

    return sorted(metrics, key=key)
