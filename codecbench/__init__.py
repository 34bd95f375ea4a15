"""codecbench: an open benchmark for classical, learned and generative video codecs."""

from codecbench.codec import Availability, Codec, Option, Requirement
from codecbench.errors import CodecbenchError
from codecbench.metrics.base import Metric
from codecbench.video import Clip, Frame, VideoFormat

__version__ = "0.1.0"

__all__ = [
    "Availability",
    "Clip",
    "Codec",
    "CodecbenchError",
    "Frame",
    "Metric",
    "Option",
    "Requirement",
    "VideoFormat",
    "__version__",
]
