"""Quality metrics: the contract in :mod:`codecbench.metrics.base`, built-in metrics beside it."""

from codecbench.metrics.base import Metric

__all__ = ["Metric"]
