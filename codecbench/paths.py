"""Where codecbench keeps caches and data by default; each can be moved by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$CODECBENCH_CACHE``, else ``$XDG_CACHE_HOME/codecbench``, else ``~/.cache/codecbench``."""
    if env := os.environ.get("CODECBENCH_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "codecbench"


def data_root(dataset: str) -> Path:
    """Default folder of a downloadable dataset: ``$CODECBENCH_DATA/NAME`` or the cache's ``datasets/NAME``."""
    if env := os.environ.get("CODECBENCH_DATA"):
        return Path(env) / dataset
    return cache_dir() / "datasets" / dataset
