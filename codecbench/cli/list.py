"""``codecbench list codecs|datasets|metrics``: what is registered, and whether it can run here."""

from __future__ import annotations

import argparse

from codecbench import registry
from codecbench.datasets import datasets
from codecbench.errors import CodecbenchError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list codecs, datasets or metrics and whether they are available")
    p.add_argument("what", choices=["codecs", "datasets", "metrics"])
    p.set_defaults(func=main)


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def _plugin_rows(names: list[str], create) -> list[tuple[str, ...]]:
    rows = []
    for name in names:
        try:
            plugin = create(name)
        except CodecbenchError as e:
            rows.append((name, "no", "", str(e)))
            continue
        avail = plugin.available()
        rows.append((name, "yes" if avail else "no", plugin.description, avail.reason))
    return rows


def main(args: argparse.Namespace) -> int:
    if args.what == "codecs":
        print(_table(_plugin_rows(registry.codec_names(), registry.create_codec),
                     ("codec", "available", "description", "missing")))  # fmt: skip
    elif args.what == "metrics":
        print(_table(_plugin_rows(registry.metric_names(), registry.create_metric),
                     ("metric", "available", "description", "missing")))  # fmt: skip
    else:
        rows = [
            (d.name, len(d.sequences), "download" if d.public else "licensed" if d.instructions else "embedded",
             d.description)
            for d in datasets().values()
        ]  # fmt: skip
        print(_table(rows, ("dataset", "sequences", "source", "description")))
    return 0
