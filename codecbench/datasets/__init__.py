"""Datasets: metadata of the standard test sets, the embedded sample, and folders of raw YUV files."""

from codecbench.datasets.base import Dataset, Download, SequenceInfo
from codecbench.datasets.registry import Selection, datasets, get_dataset, resolve

__all__ = ["Dataset", "Download", "Selection", "SequenceInfo", "datasets", "get_dataset", "resolve"]
