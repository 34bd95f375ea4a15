"""``codecbench leaderboard submit|build|export``: publish results and render the leaderboard."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from codecbench.errors import CodecbenchError
from codecbench.leaderboard import build, make_submission, submit, validate
from codecbench.report.data import load_run


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "leaderboard",
        help="validate and publish results; render the leaderboard",
        description="Submissions are JSON files (format: results/README.md) stored under RESULTS_DIR/submissions; "
        "'build' renders RESULTS_DIR/leaderboard/ (HTML, Markdown, JSON).",
    )
    p.add_argument("--results-dir", default="results", help="the published results folder (default: results)")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("submit", help="validate a submission file and add it")
    s.add_argument("file", type=Path)
    s.add_argument(
        "--replace", action="store_true", help="overwrite an earlier submission of this codec version"
    )
    s.set_defaults(func=run_submit)
    b = sub.add_parser("build", help="render the leaderboard from every submission")
    b.set_defaults(func=run_build)
    e = sub.add_parser("export", help="make a submission file from a run's results")
    e.add_argument("run_dir", help="run folder (or its results.csv)")
    e.add_argument("--out", required=True, type=Path, help="submission file to write")
    e.add_argument("--codec", help="codec label to export (needed when the run has several)")
    e.add_argument("--dataset", help="dataset to export (needed when the run has several)")
    e.set_defaults(func=run_export)


def run_submit(args: argparse.Namespace) -> int:
    dest = submit(args.file, Path(args.results_dir), replace=args.replace)
    print(f"accepted; stored as {dest}")
    return 0


def run_build(args: argparse.Namespace) -> int:
    out = build(Path(args.results_dir))
    print(f"wrote {out / 'index.html'}, {out / 'leaderboard.md'}, {out / 'leaderboard.json'}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    data = make_submission(load_run(args.run_dir), args.codec, args.dataset)
    validate(data, str(args.out))  # never write a file that submit would refuse
    try:
        args.out.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    except OSError as e:
        raise CodecbenchError(f"cannot write {args.out}: {e.strerror or e}") from e
    print(
        f"wrote {args.out} ({data['codec']['name']} on {data['dataset']['name']}, {len(data['rows'])} rows)"
    )
    return 0
