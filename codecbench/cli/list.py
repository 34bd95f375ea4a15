"""``codecbench list codecs|datasets|metrics [NAME ...]``: what is registered, and whether it can run here.

Without names it prints a short table that fits the terminal (at most 100 columns): name, whether it
runs here (``yes``, ``no: missing KIND``, or ``stand-in: LABEL`` when it runs a fallback labelled as
such), and the description, shortened. With names, or ``--verbose``, it prints every detail: the full
description, each requirement with its state and path, the options with their defaults and the
default rate ladder. Plugin probes are cached (see :func:`codecbench.registry.describe`).
"""

from __future__ import annotations

import argparse
import shutil
import textwrap
from collections.abc import Sequence

from codecbench import registry
from codecbench.datasets import datasets
from codecbench.errors import UnknownNameError
from codecbench.registry import PluginInfo

#: Widest output line: the table and the details fit a 100-column terminal.
MAX_WIDTH = 100
#: Narrowest width used when the terminal reports fewer columns.
MIN_WIDTH = 60
ELLIPSIS = "..."


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="list codecs, datasets or metrics and whether they are available",
        description="A short table; give NAMEs or --verbose for requirements, paths, options and rate ladders.",
    )
    p.add_argument("what", choices=["codecs", "datasets", "metrics"])
    p.add_argument("names", nargs="*", metavar="NAME", help="show the details of these only")
    p.add_argument("-v", "--verbose", action="store_true", help="show the details of every entry")
    p.add_argument(
        "--refresh", action="store_true", help="probe every plugin again instead of using the cached probe"
    )
    p.set_defaults(func=main)


def width() -> int:
    """Output width: the terminal's, between ``MIN_WIDTH`` and ``MAX_WIDTH`` columns."""
    return max(MIN_WIDTH, min(MAX_WIDTH, shutil.get_terminal_size((MAX_WIDTH, 24)).columns))


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with a trailing ``...`` when longer."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: max(0, limit - len(ELLIPSIS))].rstrip() + ELLIPSIS


def table(rows: Sequence[Sequence[str]], header: Sequence[str], caps: Sequence[int], total: int) -> str:
    """An aligned table no wider than ``total``: every column but the last is at most its cap wide,
    the last takes the remaining width; longer cells are shortened."""
    n = len(header)
    widths = [min(cap, max(len(str(r[i])) for r in [header, *rows])) for i, cap in enumerate(caps)]
    last = max(len(header[-1]), total - sum(widths) - 2 * (n - 1))
    widths.append(min(last, max(len(str(r[-1])) for r in [header, *rows])))
    lines = [
        "  ".join(shorten(c, w).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def availability(info: PluginInfo) -> str:
    """``yes``, ``stand-in: LABEL``, or ``no`` with the kinds of what is missing."""
    if info.status == "stand-in":
        return f"stand-in: {info.stand_in}"
    if info.status == "yes":
        return "yes"
    if info.error:
        return "no: cannot load"
    kinds = list(dict.fromkeys(r.kind for r in info.requirements if not r.ok))
    return f"no: missing {', '.join(kinds)}" if kinds else "no"


def _wrap(text: str, indent: str, total: int, more: str = "  ") -> list[str]:
    """``text`` wrapped to ``total`` columns, continuation lines indented by ``more`` beyond
    ``indent``; paths and URLs are never split, so a line holding one long path may be wider."""
    return textwrap.wrap(
        text, total, initial_indent=indent, subsequent_indent=" " * len(indent) + more,
        break_long_words=False, break_on_hyphens=False,
    ) or [indent.rstrip()]  # fmt: skip


def details(info: PluginInfo, total: int) -> str:
    """Everything known about a plugin: description, availability, requirements, options, ladder."""
    lines = [f"{info.name}  ({info.kind}, entry point {info.entry_point})"]
    lines += _wrap(info.description or "(no description)", "  ", total)
    if info.status == "stand-in":
        state = (
            f"yes, as the stand-in {info.stand_in}: a fallback, labelled so in every result, "
            f"not the configuration {info.name} stands for (see the requirements)"
        )
    else:
        state = info.status
    lines += _wrap(f"available: {state}", "  ", total)
    if info.error:
        lines += _wrap(f"error: {info.error}", "  ", total)
    if info.requirements:
        lines.append("  requirements:")
        for r in info.requirements:
            text = f"{'ok' if r.ok else 'MISSING':7} {r.kind} {r.name}" + (
                f": {r.detail}" if r.detail else ""
            )
            lines += _wrap(text, "  - ", total)
            if r.path and r.path not in r.detail:
                lines += _wrap(f"path: {r.path}", "    ", total)
    elif info.missing:
        lines.append("  missing:")
        for m in info.missing:
            lines += _wrap(m, "  - ", total)
    if info.options:
        flag = "--codec-opt" if info.kind == "codec" else "--metric-opt"
        lines.append(f"  options ({flag} {info.name}.KEY=VALUE):")
        for o in info.options:
            choices = f" (one of {', '.join(o.choices)})" if o.choices else ""
            lines += _wrap(f"{o.name} = {o.default}{choices}: {o.help}", "  - ", total)
    if info.kind == "codec" and info.rate_points:
        ladder = (
            f"default rate points ({info.rate_parameter}, lowest rate first): {', '.join(info.rate_points)}"
        )
        lines += _wrap(ladder, "  ", total)
    return "\n".join(lines)


def _plugins(kind: str, args: argparse.Namespace, total: int) -> str:
    infos = registry.describe(kind, args.names, refresh=args.refresh)
    if args.names or args.verbose:
        return "\n\n".join(details(i, total) for i in infos)
    rows = [(i.name, availability(i), i.description) for i in infos]
    hint = f"details: codecbench list {kind}s NAME (or --verbose); --refresh probes the plugins again"
    return table(rows, (kind, "available", "description"), (24, 28), total) + "\n\n" + shorten(hint, total)


def _datasets(args: argparse.Namespace, total: int) -> str:
    known = datasets()
    for name in args.names:
        if name not in known:
            raise UnknownNameError("dataset", name, list(known))
    if args.names or args.verbose:
        from codecbench.cli.datasets import run_info

        for i, name in enumerate(args.names or list(known)):
            print("\n" if i else "", end="")
            run_info(argparse.Namespace(name=name))
        return ""
    rows = [
        (d.name, str(len(d.sequences)),
         "download" if d.public else "licensed" if d.instructions else "embedded", d.description)
        for d in known.values()
    ]  # fmt: skip
    hint = "details: codecbench list datasets NAME (or codecbench datasets info NAME)"
    return table(rows, ("dataset", "sequences", "source", "description"), (20, 9, 8), total) + "\n\n" + hint


def main(args: argparse.Namespace) -> int:
    total = width()
    if args.what == "codecs":
        print(_plugins("codec", args, total))
    elif args.what == "metrics":
        print(_plugins("metric", args, total))
    elif text := _datasets(args, total):
        print(text)
    return 0
