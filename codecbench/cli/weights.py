"""``codecbench weights status|download``: which pretrained weight files are present, and fetching them."""

from __future__ import annotations

import argparse

from codecbench import weights
from codecbench.errors import CodecbenchError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("weights", help="list or download the pretrained weights metrics need")
    wsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = wsub.add_parser("status", help="show each weight file, its metrics, and whether it is present")
    s.set_defaults(func=status)
    d = wsub.add_parser("download", help="download missing weight files into their caches")
    d.add_argument("names", nargs="*", help="weight files or metric names (default: every weight file)")
    d.add_argument("--no-progress", action="store_true", help="no progress bars")
    d.set_defaults(func=download)


def _users(name: str) -> str:
    return ",".join(m for m, files in weights.METRIC_WEIGHTS.items() if name in files)


def status(args: argparse.Namespace) -> int:
    """Print one line per weight file; exit 0 when all are present, 1 otherwise."""
    rows = [("weights", "metrics", "present", "path")]
    for wf in weights.WEIGHTS.values():
        rows.append((wf.name, _users(wf.name), "yes" if wf.present() else "NO", str(wf.path)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3])
    return 0 if all(wf.present() for wf in weights.WEIGHTS.values()) else 1


def _resolve(names: list[str]) -> list[str]:
    """Weight-file names from a mix of weight and metric names, in registry order, no repeats."""
    wanted: set[str] = set()
    for n in names:
        if n in weights.WEIGHTS:
            wanted.add(n)
        elif n in weights.METRIC_WEIGHTS:
            wanted.update(weights.METRIC_WEIGHTS[n])
        else:
            known = sorted(set(weights.WEIGHTS) | set(weights.METRIC_WEIGHTS))
            raise CodecbenchError(f"unknown weight file or metric {n!r}; known: {', '.join(known)}")
    return [n for n in weights.WEIGHTS if not names or n in wanted]


def download(args: argparse.Namespace) -> int:
    """Fetch each missing file; report every failure, exit 1 when any remains missing."""
    failed = []
    for name in _resolve(args.names):
        wf = weights.WEIGHTS[name]
        if wf.present():
            print(f"{name}: present at {wf.path}")
            continue
        try:
            path = weights.download(name, progress=not args.no_progress)
            print(f"{name}: downloaded to {path}")
        except CodecbenchError as e:
            print(f"{name}: FAILED: {e}")
            failed.append(name)
    if failed:
        print(f"{len(failed)} weight file(s) missing: {', '.join(failed)}")
        return 1
    return 0
