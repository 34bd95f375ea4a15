"""Where jobs run: ``local`` (this machine, N worker processes) or a cluster engine."""

from __future__ import annotations

import inspect
from typing import Any

from codecbench.errors import CodecbenchError, UnknownNameError
from codecbench.run.executors.base import Executor
from codecbench.run.executors.local import LocalExecutor

#: executor name -> "module:Class", imported only when chosen.
EXECUTORS: dict[str, str] = {
    "local": "codecbench.run.executors.local:LocalExecutor",
    "ray": "codecbench.run.executors.ray_cluster:RayExecutor",
}


def get_executor(name: str, **options: Any) -> Executor:
    """Build the executor ``name`` with its options (e.g. ``workers``, ``address``)."""
    import importlib

    if name not in EXECUTORS:
        raise UnknownNameError("executor", name, list(EXECUTORS))
    module, _, cls = EXECUTORS[name].partition(":")
    factory = getattr(importlib.import_module(module), cls)
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as e:
        raise CodecbenchError(f"executor {name}: {e}; it takes {inspect.signature(factory)}") from e
    return factory(**options)


__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "get_executor"]
