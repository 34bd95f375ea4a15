"""Progress for long work: a redrawn bar on a terminal, occasional plain lines in a log.

A log file or a CI console gets no carriage-return redraws: :class:`Progress` writes one plain
line at the start, then at most one every ``interval`` seconds, and one at the end. Codecs use it
for their own long steps (a DiV-INR encode), the harness for the run as a whole, where
:class:`EtaModel` turns the jobs finished so far into an estimate that knows one codec's job can
cost a hundred times another's.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import IO, Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def is_terminal(file: IO[str] | None = None) -> bool:
    """Whether ``file`` (default: stderr) is an interactive terminal."""
    file = file or sys.stderr
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):
        return False


def clock(seconds: float) -> str:
    """``h:mm:ss`` or ``m:ss``."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Progress of ``total`` units of work named ``desc``.

    ``nested=True`` draws below the run's own bar and removes itself when done (a step inside a job).
    """

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str = "it",
        *,
        nested: bool = False,
        enabled: bool = True,
        interval: float = 30.0,
        file: IO[str] | None = None,
    ) -> None:
        self.total, self.desc, self.unit = int(total), desc, unit
        self.n, self.postfix = 0, ""
        self.file = file or sys.stderr
        self.enabled = enabled
        self.interval = interval
        self.start = self._last = time.monotonic()
        self._bar: Any = None
        if enabled and is_terminal(self.file):
            self._bar = tqdm(
                total=self.total,
                desc=desc,
                unit=unit,
                position=1 if nested else 0,
                leave=not nested,
                file=self.file,
                dynamic_ncols=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                + unit
                + " [{elapsed}{postfix}]",
            )
        elif enabled:
            self._line()

    def update(self, n: int = 1, postfix: str | None = None) -> None:
        """``n`` more units done; ``postfix`` replaces the short status after the count."""
        self.n += n
        if postfix is not None:
            self.postfix = postfix
        if self._bar is not None:
            if postfix is not None:
                self._bar.set_postfix_str(postfix, refresh=False)
            self._bar.update(n)
        elif self.enabled and (self.n >= self.total or time.monotonic() - self._last >= self.interval):
            self._line()

    def each(self, items: Iterable[T]) -> Iterator[T]:
        """``items``, counting one unit after each (also when the loop body ``continue``s); closes at the end."""
        try:
            for item in items:
                yield item
                self.update(1)
        finally:
            self.close()

    def write(self, message: str) -> None:
        """A message that does not break the bar."""
        if self._bar is not None:
            self._bar.write(message, file=self.file)
        else:
            print(message, file=self.file, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _line(self) -> None:
        self._last = time.monotonic()
        extra = f", {self.postfix}" if self.postfix else ""
        print(
            f"{self.desc}: {self.n}/{self.total} {self.unit}, {clock(self._last - self.start)} elapsed{extra}",
            file=self.file,
            flush=True,
        )

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EtaModel:
    """Time left in a run, from the mean time of each codec's finished jobs.

    A codec with no finished job yet is costed at the mean of those that have one. The sum of job
    times over the elapsed wall time measures how many jobs run at once.
    """

    def __init__(self, codecs: Iterable[str]) -> None:
        self.left = Counter(codecs)
        self.seconds: dict[str, list[float]] = {}

    def observe(self, codec: str, seconds: float | None) -> None:
        """One job of ``codec`` finished after ``seconds`` of its own (None: unknown)."""
        self.left[codec] -= 1
        if seconds is not None and seconds >= 0:
            self.seconds.setdefault(codec, []).append(float(seconds))

    def estimate(self, elapsed: float) -> float | None:
        """Seconds left, or None before any job has finished."""
        means = {c: sum(v) / len(v) for c, v in self.seconds.items() if v}
        if not means:
            return None
        overall = sum(means.values()) / len(means)
        work = sum(n * means.get(c, overall) for c, n in self.left.items() if n > 0)
        done = sum(sum(v) for v in self.seconds.values())
        parallel = max(1.0, done / elapsed) if elapsed > 0 else 1.0
        return work / parallel

    def describe(self, elapsed: float) -> str:
        """``about 5:40 left``, or ``estimating`` before the first job finishes."""
        left = self.estimate(elapsed)
        return "estimating time left" if left is None else f"about {clock(left)} left"
