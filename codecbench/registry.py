"""Plugin discovery through entry points: ``codecbench.codecs`` and ``codecbench.metrics``.

The in-tree anchors and plugins register exactly as a third-party package does, in its
``pyproject.toml``::

    [project.entry-points."codecbench.codecs"]
    mycodec = "my_package.codec:MyCodec"

A plugin that fails to import is listed as unavailable with the import error, never dropped silently.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from codecbench.codec import Codec
from codecbench.errors import CodecbenchError, CodecUnavailableError, UnknownNameError
from codecbench.metrics.base import Metric

CODECS_GROUP = "codecbench.codecs"
METRICS_GROUP = "codecbench.metrics"


@dataclass(frozen=True)
class Plugin:
    """An entry point, loaded lazily; ``error`` holds why it could not be loaded."""

    name: str
    entry_point: EntryPoint

    def load(self) -> type:
        try:
            return self.entry_point.load()
        except Exception as e:  # a broken plugin must not break the harness
            last = traceback.format_exception_only(type(e), e)[-1].strip()
            raise CodecUnavailableError(
                f"plugin {self.name!r} ({self.entry_point.value}) failed to load: {last}"
            ) from e


def _plugins(group: str) -> dict[str, Plugin]:
    return {ep.name: Plugin(ep.name, ep) for ep in entry_points(group=group)}


def codec_names() -> list[str]:
    return sorted(_plugins(CODECS_GROUP))


def metric_names() -> list[str]:
    return sorted(_plugins(METRICS_GROUP))


def codec_class(name: str) -> type[Codec]:
    """The codec class registered as ``name``; unknown names list the known ones."""
    plugins = _plugins(CODECS_GROUP)
    if name not in plugins:
        raise UnknownNameError("codec", name, list(plugins))
    cls = plugins[name].load()
    if not (isinstance(cls, type) and issubclass(cls, Codec)):
        raise CodecbenchError(f"plugin {name!r} does not name a codecbench.Codec subclass")
    return cls


def metric_class(name: str) -> type[Metric]:
    """The metric class registered as ``name``; unknown names list the known ones."""
    plugins = _plugins(METRICS_GROUP)
    if name not in plugins:
        raise UnknownNameError("metric", name, list(plugins))
    cls = plugins[name].load()
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        raise CodecbenchError(f"plugin {name!r} does not name a codecbench Metric subclass")
    return cls


def create_codec(name: str, options: dict[str, Any] | None = None) -> Codec:
    """Instantiate the codec ``name`` with user options (strings are parsed by its option types)."""
    return codec_class(name)(**(options or {}))


def create_metric(name: str, options: dict[str, Any] | None = None) -> Metric:
    """Instantiate the metric ``name`` with user options."""
    return metric_class(name)(**(options or {}))
