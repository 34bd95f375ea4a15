"""Where jobs run: ``local`` (this machine, N worker processes) or a cluster engine."""

from __future__ import annotations

from typing import Any

from codecbench.errors import UnknownNameError
from codecbench.executors.base import Executor
from codecbench.executors.local import LocalExecutor

#: executor name -> "module:Class", imported only when chosen.
EXECUTORS: dict[str, str] = {
    "local": "codecbench.executors.local:LocalExecutor",
    "ray": "codecbench.executors.ray_cluster:RayExecutor",
}


def get_executor(name: str, **options: Any) -> Executor:
    """Build the executor ``name`` with its options (e.g. ``workers``, ``address``)."""
    import importlib

    if name not in EXECUTORS:
        raise UnknownNameError("executor", name, list(EXECUTORS))
    module, _, cls = EXECUTORS[name].partition(":")
    return getattr(importlib.import_module(module), cls)(**options)


__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "get_executor"]
