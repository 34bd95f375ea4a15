"""Run settings from a YAML or TOML file, merged under the command line's own arguments.

Example ``run.yaml``::

    codecs: [hevc, vvc]
    dataset: sample
    frames: 8
    codec_options:
      hevc: {preset: slow, rate_points: "32,37,42,47"}
    metrics: [psnr_y]
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

from codecbench.errors import CodecbenchError

KNOWN_KEYS = {
    "codecs", "dataset", "root", "out", "frames", "sequences", "workers", "threads", "metrics",
    "codec_options", "metric_options", "executor", "executor_options", "address", "anchor", "report",
}  # fmt: skip


def load_config(path: Path | str) -> dict[str, Any]:
    """Read a run configuration file; unknown keys and malformed files are clear errors."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise CodecbenchError(f"cannot read config file {path}: {e.strerror or e}") from e
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as e:
        raise CodecbenchError(
            f"config file {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {e}"
        ) from e
    data = data or {}
    if not isinstance(data, dict):
        raise CodecbenchError(f"config file {path} must hold a mapping of settings")
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise CodecbenchError(
            f"config file {path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_KEYS))}"
        )
    for key in ("codec_options", "metric_options"):
        value = data.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise CodecbenchError(f"config file {path}: {key} must map names to mappings of options")
    return data


def as_list(value: Any) -> list[str] | None:
    """``"a,b"`` or ``["a", "b"]`` as a list of names; None stays None."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return [i.strip() for i in items if i.strip()]
