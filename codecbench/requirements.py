"""What a codec or metric needs to run (binaries, weights, devices) and whether it has it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Requirement:
    """One thing a plugin needs; ``ok`` says whether it is present, ``detail`` what or where.

    ``path`` is the file or folder the check looked at, when there is one: ``codecbench list``
    shows it, and its cached listing is probed again when that path changes (weights downloaded,
    a binary installed).
    """

    kind: str  # "binary", "weights", "device", "python"
    name: str
    ok: bool
    detail: str = ""
    path: str = ""

    def __str__(self) -> str:
        state = "ok" if self.ok else "MISSING"
        return f"{self.kind} {self.name}: {state}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class Availability:
    """Whether a plugin can run here, with the exact reasons when it cannot.

    ``stand_in`` is set when the plugin runs, but not as configured: it is the label its results
    get (e.g. a fallback model), so listings and reports never pass it off as the real thing.
    """

    ok: bool
    missing: list[str] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)
    stand_in: str = ""

    @classmethod
    def of(cls, requirements: list[Requirement], stand_in: str = "") -> Availability:
        missing = [str(r) for r in requirements if not r.ok]
        return cls(not missing, missing, list(requirements), stand_in)

    @property
    def reason(self) -> str:
        return "; ".join(self.missing)

    def __bool__(self) -> bool:
        return self.ok
