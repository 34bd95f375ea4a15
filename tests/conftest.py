"""Shared fixtures: an isolated cache per test session and the third-party toy codec plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TOY_PLUGIN = Path(__file__).parent / "fixtures" / "toyplugin"
TOY_METRIC = Path(__file__).parent / "fixtures" / "toymetric"
TOY_DATASET = Path(__file__).parent / "fixtures" / "toydataset"


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep the sample clips and other caches of a test session out of the user's home."""
    cache = tmp_path_factory.mktemp("cache")
    old = os.environ.get("CODECBENCH_CACHE")
    os.environ["CODECBENCH_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("CODECBENCH_CACHE", None)
    else:
        os.environ["CODECBENCH_CACHE"] = old


def register_plugin(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Path:
    """Make the entry points of the dist-info in ``folder`` visible here and in subprocesses."""
    monkeypatch.syspath_prepend(str(folder))
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", f"{folder}{os.pathsep}{path}" if path else str(folder))
    return folder


@pytest.fixture
def toy_plugin(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Register the toy codec through its entry point, in this process and in subprocesses."""
    return register_plugin(monkeypatch, TOY_PLUGIN)


@pytest.fixture
def toy_metric(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Register the toy metric (``toy_mad``: lower is better, in "levels") through its entry point."""
    from codecbench.metrics.info import metric_info

    metric_info.cache_clear()
    yield register_plugin(monkeypatch, TOY_METRIC)
    metric_info.cache_clear()


def cli(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``codecbench ARGS`` in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "codecbench.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
