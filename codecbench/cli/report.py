"""``codecbench report``: one self-contained HTML report of a run."""

from __future__ import annotations

import argparse

from codecbench import bd
from codecbench.report import write_report
from codecbench.run.tables import DEFAULT_ANCHOR


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of a run",
        description="RD curves, BD tables against the anchor, ranking, per-frame timelines and a "
        "visual comparison, in one HTML file that works offline.",
    )
    p.add_argument("results", help="results.csv of a run (or the run folder)")
    p.add_argument("--out", help="HTML file to write (default: report.html beside results.csv)")
    p.add_argument(
        "--anchor",
        default=DEFAULT_ANCHOR,
        help=f"anchor codec label or plugin name (default: {DEFAULT_ANCHOR})",
    )
    p.add_argument("--method", choices=bd.METHODS, default="pchip", help="BD interpolation (default: pchip)")
    p.add_argument(
        "--compare-bpp",
        type=float,
        help="target bpp of the visual comparison (default: the anchor's median bpp per sequence)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.compare_bpp is not None and not args.compare_bpp > 0:
        from codecbench.errors import CodecbenchError

        raise CodecbenchError("--compare-bpp must be a positive number")
    out = write_report(args.results, args.out, args.anchor, args.method, args.compare_bpp)
    print(f"wrote {out}")
    return 0
