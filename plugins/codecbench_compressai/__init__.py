"""CompressAI's learned image and video codecs as codecbench codecs (``bmshj2018-*``, ``mbt2018*``,
``cheng2020-*``, ``ssf2020``), with real entropy-coded bitstreams and zoo or local weights."""

from .base import CompressAICodec
from .zoo import MODELS, ModelSpec

__all__ = ["MODELS", "CompressAICodec", "ModelSpec"]
