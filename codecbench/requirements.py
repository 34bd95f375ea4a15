"""What a codec or metric needs to run (binaries, weights, devices) and whether it has it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Requirement:
    """One thing a plugin needs; ``ok`` says whether it is present, ``detail`` what or where."""

    kind: str  # "binary", "weights", "device", "python"
    name: str
    ok: bool
    detail: str = ""

    def __str__(self) -> str:
        state = "ok" if self.ok else "MISSING"
        return f"{self.kind} {self.name}: {state}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class Availability:
    """Whether a plugin can run here, with the exact reasons when it cannot."""

    ok: bool
    missing: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, requirements: list[Requirement]) -> Availability:
        missing = [str(r) for r in requirements if not r.ok]
        return cls(not missing, missing)

    @property
    def reason(self) -> str:
        return "; ".join(self.missing)

    def __bool__(self) -> bool:
        return self.ok
