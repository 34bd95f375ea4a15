"""The plan of a run: the (codec x sequence x rate point) grid of jobs and the metrics they compute.

The same arguments give the same jobs (the same ids), which is what lets a run resume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codecbench import registry
from codecbench.datasets import Selection
from codecbench.errors import CodecbenchError, UnknownNameError
from codecbench.run.jobs import Job
from codecbench.threads import job_threads

RATE_POINTS_KEY = "rate_points"


@dataclass
class Plan:
    """The jobs of a run and what was decided while making them."""

    selection: Selection
    jobs: list[Job]
    metrics: list[str]
    #: metric name -> why it is not computed (unavailable, does not fit the dataset's size).
    skipped_metrics: dict[str, str] = field(default_factory=dict)
    #: codec name -> {"label", "version", "available", "reason", "rate_points", "threads"}.
    codecs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Thread budget of each job (:mod:`codecbench.threads`).
    threads: int = 1


def choose_metrics(
    requested: list[str] | None, selection: Selection, options: dict[str, dict[str, Any]]
) -> tuple[list[str], dict[str, str]]:
    """Metrics to compute and the skipped ones with reasons.

    Explicitly requested metrics that cannot run are skipped with their reason (the run goes on);
    by default every registered metric that is available and fits every clip is used.
    """
    names = requested if requested else registry.metric_names()
    chosen, skipped = [], {}
    for name in names:
        try:
            metric = registry.create_metric(name, options.get(name, {}))
        except UnknownNameError:
            raise
        except CodecbenchError as e:
            skipped[name] = str(e)
            continue
        avail = metric.available()
        if not avail:
            skipped[name] = f"unavailable: {avail.reason}"
        elif not all(metric.fits(c.format) for c in selection.clips):
            skipped[name] = f"does not fit the frame size of dataset {selection.dataset}"
        else:
            chosen.append(name)
    return chosen, skipped


def plan(
    codecs: list[str],
    selection: Selection,
    codec_options: dict[str, dict[str, Any]] | None = None,
    metrics: list[str] | None = None,
    metric_options: dict[str, dict[str, Any]] | None = None,
    threads: int = 0,
) -> Plan:
    """Resolve codecs, their rate points and the metrics into the list of jobs.

    ``threads`` is each job's thread budget (0: the running process's own, see
    :mod:`codecbench.threads`); a single-threaded codec's jobs get 1.
    """
    codec_options = {k: dict(v) for k, v in (codec_options or {}).items()}
    metric_options = metric_options or {}
    unknown_owner = set(codec_options) - set(codecs)
    if unknown_owner:
        raise CodecbenchError(
            f"--codec-opt names codec(s) not in --codecs: {', '.join(sorted(unknown_owner))}"
        )
    built = {}
    for name in codecs:  # unknown names and options fail here, before any work
        opts = codec_options.get(name, {})
        ladder = opts.pop(RATE_POINTS_KEY, None)
        built[name] = (registry.create_codec(name, opts), opts, ladder)
    chosen, skipped = choose_metrics(metrics, selection, metric_options)
    jobs, info = [], {}
    for name, (codec, opts, ladder) in built.items():
        points = [p.strip() for p in str(ladder).split(",") if p.strip()] if ladder else None
        points = points or codec.default_rate_points()
        for p in points:
            codec.check_rate_point(p)
        avail = codec.available()
        info[name] = {
            "label": codec.label,
            "version": codec.version,
            "available": avail.ok,
            "reason": avail.reason,
            "rate_points": points,
        }
        config = codec.config_json()
        budget = 1 if codec.single_threaded else threads
        info[name]["threads"] = budget or job_threads()
        for clip in selection.clips:
            for p in points:
                jobs.append(Job(name, opts, config, p, clip, tuple(chosen), metric_options, budget))
    return Plan(selection, jobs, chosen, skipped, info, threads or job_threads())
