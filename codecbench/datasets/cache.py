"""Embedded datasets built on first use: one folder per recipe, built once under a lock.

A folder is complete when its ``manifest.json`` exists; the manifest is written last (atomically),
so a build that was killed half-way is simply done again by the next caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from codecbench.atomic import atomic_write_text


def build_once(root: Path, build: Callable[[Path], dict]) -> Path:
    """``root``, after ``build(root)`` has filled it once; ``build`` returns the manifest's content."""
    manifest = root / "manifest.json"
    if manifest.is_file():
        return root
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".lock")):
        if manifest.is_file():
            return root
        content = build(root)
        atomic_write_text(manifest, json.dumps(content, indent=1))
    return root
