"""``ROOT/.codecbench-manifest.json``: what ``codecbench datasets fetch`` downloaded and extracted.

Where no checksum is published, the SHA-256 recorded here on the first download lets later runs
detect a changed file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from codecbench.atomic import atomic_write_text
from codecbench.errors import CodecbenchError

MANIFEST = ".codecbench-manifest.json"


class Manifest:
    """``ROOT/.codecbench-manifest.json``: checksums of what ``fetch`` downloaded and extracted."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / MANIFEST
        self.data: dict = {"files": {}, "sequences": {}}
        if self.path.is_file():
            try:
                self.data.update(json.loads(self.path.read_text()))
            except (OSError, ValueError) as e:
                raise CodecbenchError(
                    f"{self.path} is unreadable ({e}); delete it and run fetch again"
                ) from None

    def file(self, name: str) -> dict | None:
        return self.data["files"].get(name)

    def record_file(self, name: str, **info: object) -> None:
        self.data["files"][name] = {**info, "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self.save()

    def record_sequence(self, name: str, **info: object) -> None:
        self.data["sequences"][name] = info
        self.save()

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps(self.data, indent=1, sort_keys=True))
