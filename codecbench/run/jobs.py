"""Jobs: one (codec, sequence, rate point) each, with a stable identity used to resume runs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from codecbench.slugs import slug
from codecbench.video import Clip


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to encode, decode and measure one rate point of one sequence."""

    codec: str  # plugin (entry-point) name
    codec_options: dict[str, Any]
    codec_config: str  # JSON of the resolved configuration; part of the identity
    rate_point: str
    clip: Clip
    metrics: tuple[str, ...] = ()
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Thread budget of the job (0: the process's own); not part of the identity, since no codec's
    #: bitstream may depend on it.
    threads: int = 0

    @property
    def key(self) -> str:
        """Canonical description of what determines this job's result."""
        return json.dumps(
            {
                "codec": self.codec,
                "config": self.codec_config,
                "dataset": self.clip.dataset,
                "sequence": self.clip.name,
                "format": str(self.clip.format),
                "frames": self.clip.frames,
                "rate_point": self.rate_point,
            },
            sort_keys=True,
        )

    @property
    def job_id(self) -> str:
        """Readable, file-name-safe and unique: ``codec-dataset-sequence-ratepoint-hash``."""
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:10]
        parts = (self.codec, self.clip.dataset, self.clip.name, self.rate_point)
        return "-".join(slug(p) for p in parts) + f"-{digest}"
