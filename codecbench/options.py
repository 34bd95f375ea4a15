"""Typed options that codecs and metrics declare and users set with ``--codec-opt name.key=value``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codecbench.errors import CodecbenchError


def _bool(text: str | bool) -> bool:
    if isinstance(text, bool):
        return text
    low = str(text).strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


PARSERS: dict[type, Callable[[Any], Any]] = {bool: _bool, int: int, float: float, str: str, Path: Path}


@dataclass(frozen=True)
class Option:
    """A named setting with a default, a type used to parse strings, a help text and allowed choices."""

    default: Any
    help: str = ""
    type: type = str
    choices: tuple[Any, ...] | None = None

    def parse(self, owner: str, key: str, value: Any) -> Any:
        if value is None:
            return None
        try:
            parsed = value if isinstance(value, self.type) else PARSERS.get(self.type, self.type)(value)
        except (TypeError, ValueError) as e:
            raise CodecbenchError(
                f"{owner}.{key}: cannot read {value!r} as {self.type.__name__} ({e})"
            ) from e
        if self.choices is not None and parsed not in self.choices:
            raise CodecbenchError(f"{owner}.{key}: {parsed!r} is not one of {list(self.choices)}")
        return parsed


def resolve_options(owner: str, declared: Mapping[str, Option], given: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overridden by ``given``, each value parsed; unknown keys are an error that lists known ones."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "(none)"
        raise CodecbenchError(f"{owner}: unknown option(s) {', '.join(unknown)}; known options: {known}")
    out = {k: o.default for k, o in declared.items()}
    for k, v in given.items():
        out[k] = declared[k].parse(owner, k, v)
    return out


def parse_assignments(items: list[str] | None) -> dict[str, dict[str, str]]:
    """Parse ``['hevc.preset=slow', ...]`` into ``{'hevc': {'preset': 'slow'}}``."""
    out: dict[str, dict[str, str]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        owner, dot, name = key.strip().partition(".")
        if not sep or not dot or not owner or not name:
            raise CodecbenchError(f"option {item!r} must look like NAME.KEY=VALUE (e.g. hevc.preset=slow)")
        out.setdefault(owner, {})[name] = value.strip()
    return out
