"""The optimiser of the ``mini`` prior's pre-training stages: AdamW, linear warm-up, cosine decay."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

WARMUP = 50


def warmup_cosine(params: Iterable[torch.nn.Parameter] | list[dict], lr: float, total: int) -> dict:
    """Lightning's ``configure_optimizers`` answer: AdamW whose rate warms up over :data:`WARMUP`
    steps, then follows a cosine from ``lr`` (or each parameter group's own) down to 5 % of it at
    step ``total``."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    total = max(int(total), 1)

    def shape(step: int) -> float:
        if step < WARMUP:
            return (step + 1) / WARMUP
        return 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0))) * 0.95 + 0.05

    sched = torch.optim.lr_scheduler.LambdaLR(opt, shape)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
