"""``codecbench bd``: Bjontegaard deltas of every codec of a run against an anchor."""

from __future__ import annotations

import argparse
import json
import math
import sys

import pandas as pd

from codecbench import bd
from codecbench.errors import CodecbenchError
from codecbench.metrics.info import metric_info
from codecbench.run.tables import DEFAULT_ANCHOR, load_run

#: Keys of each JSON object: the BD table's columns up to the per-sequence range.
JSON_KEYS = bd.TABLE_COLUMNS[: bd.TABLE_COLUMNS.index("seq_max") + 1]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bd",
        help="BD-rate / BD-quality of each codec against an anchor",
        description="BD-rate (%% rate change at equal quality; negative = better) or BD-quality "
        "(quality change at equal rate; positive = better, for lower-is-better metrics the reduction) "
        "of each codec against the anchor, per sequence and per dataset ('*', the mean over sequences, "
        f"with a bootstrap confidence interval over sequences from {bd.MIN_CI_SEQUENCES} sequences on, "
        "else the range of the per-sequence values).",
    )
    p.add_argument("results", help="results.csv of a run (or the run folder)")
    p.add_argument(
        "--anchor",
        default=DEFAULT_ANCHOR,
        help=f"anchor codec label or plugin name (default: {DEFAULT_ANCHOR})",
    )
    p.add_argument("--metric", default="psnr_y", help="metric column, or a dataset metric such as fid")
    p.add_argument("--method", choices=bd.METHODS, default="pchip", help="interpolation (default: pchip)")
    p.add_argument("--mode", choices=bd.MODES, default="rate", help="BD-rate or BD-quality (default: rate)")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table", dest="fmt")
    p.add_argument(
        "--direction",
        choices=("higher", "lower"),
        help="whether higher or lower metric values are better (default: from the metric plugin)",
    )
    p.add_argument("--confidence", type=float, default=0.95, help="bootstrap interval level (default 0.95)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=run)


def compute(args: argparse.Namespace) -> pd.DataFrame:
    """The BD table the command prints."""
    tables = load_run(args.results)
    curves = bd.curves_for(tables.results, tables.dataset_metrics, args.metric)
    anchor = tables.resolve_anchor(args.anchor, curves["codec"].unique())
    higher = None if args.direction is None else args.direction == "higher"
    return bd.bd_table(
        curves, anchor, args.metric, args.method, args.mode, higher, args.confidence, seed=args.seed
    )


def _json_value(v: object) -> object:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def run(args: argparse.Namespace) -> int:
    table = compute(args)
    if len(table) and not table["value"].notna().any():
        raise CodecbenchError(f"no BD value could be computed: {table['warning'].iloc[0]}")
    if args.fmt == "json":
        records = [
            {k: _json_value(row[k]) for k in [*JSON_KEYS, "monotonic", "warning"]}
            for row in table.to_dict("records")
        ]
        json.dump(records, sys.stdout, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o))
        print()
    elif args.fmt == "csv":
        table.to_csv(sys.stdout, index=False)
    else:
        unit = "%" if args.mode == "rate" else f" {metric_info(args.metric).unit}".rstrip()
        shown = table[["dataset", "sequence", "codec", "value", "ci_low", "ci_high", "seq_min", "seq_max"]]
        shown = shown.copy()
        for c in ("value", "ci_low", "ci_high", "seq_min", "seq_max"):
            shown[c] = shown[c].map(lambda v: "" if not math.isfinite(v) else f"{v:+.4f}{unit}")
        shown["warning"] = table["warning"]
        title = f"BD-{'rate' if args.mode == 'rate' else 'quality'} of {args.metric} vs {args.anchor}"
        print(
            f"{title} ({args.method}; '*' = mean over sequences; ci_low/ci_high: {args.confidence:.0%} "
            f"bootstrap interval over sequences; seq_min/seq_max: range of the per-sequence values)"
        )
        if (table["sequence"] != bd.ALL_SEQUENCES).any() and not table["ci_low"].notna().any():
            print(f"no confidence interval: {bd.RANGE_NOTE}")
        print(shown.to_string(index=False) if len(shown) else "(no codec besides the anchor)")
    return 0
