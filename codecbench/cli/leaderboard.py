"""``codecbench leaderboard export|submit|verify|build``: publish results, re-check them from their
bitstreams, and render the leaderboard."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from codecbench.errors import CodecbenchError
from codecbench.leaderboard import build, make_submission, submit, validate
from codecbench.leaderboard.build import stale
from codecbench.leaderboard.export import export_bitstreams
from codecbench.leaderboard.store import (
    bitstreams_folder,
    load_submission_files,
    read_submission_file,
    write_atomic,
)
from codecbench.leaderboard.verify import verify_submissions
from codecbench.run.tables import load_run


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "leaderboard",
        help="validate and publish results; re-check them from their bitstreams; render the leaderboard",
        description="Submissions are JSON files (format: results/README.md) stored under RESULTS_DIR/submissions, "
        "their bitstreams under RESULTS_DIR/bitstreams; 'build' renders RESULTS_DIR/leaderboard/ (HTML, "
        "Markdown, JSON).",
    )
    p.add_argument("--results-dir", default="results", help="the published results folder (default: results)")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    e = sub.add_parser("export", help="make a submission file, and its bitstreams folder, from a run")
    e.add_argument("run_dir", help="run folder (or its results.csv)")
    e.add_argument(
        "--out",
        required=True,
        type=Path,
        help="submission file to write; X.json gets its bitstreams in X.bitstreams/",
    )
    e.add_argument("--codec", help="codec label to export (needed when the run has several)")
    e.add_argument("--dataset", help="dataset to export (needed when the run has several)")
    e.set_defaults(func=run_export)
    s = sub.add_parser("submit", help="validate a submission file and add it, with its bitstreams")
    s.add_argument("file", type=Path)
    s.add_argument(
        "--bitstreams",
        type=Path,
        help="folder of its bitstreams (default: X.bitstreams beside X.json, if present)",
    )
    s.add_argument(
        "--replace",
        action="store_true",
        help="overwrite an earlier submission of this codec version (same dataset and setting)",
    )
    s.set_defaults(func=run_submit)
    v = sub.add_parser(
        "verify",
        help="re-decode the stored bitstreams of submissions and check sizes and hashes",
        description="Exit status: 0 when every row of every submission matches its bitstream, 1 when any "
        "does not or cannot be checked (missing bitstream, codec not available here), 2 on bad input.",
    )
    v.add_argument(
        "submissions",
        nargs="*",
        type=Path,
        help="submission files (default: every one under RESULTS_DIR/submissions)",
    )
    v.add_argument("--quiet", action="store_true", help="no progress line")
    v.set_defaults(func=run_verify)
    b = sub.add_parser("build", help="render the leaderboard from every submission")
    b.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the rendered files differ from those on disk",
    )
    b.set_defaults(func=run_build)


def run_submit(args: argparse.Namespace) -> int:
    done = submit(args.file, Path(args.results_dir), replace=args.replace, bitstreams=args.bitstreams)
    print(f"accepted; stored as {done.path}")
    if done.verifiable:
        print(
            f"bitstreams: {done.written} stored, {done.already} already there; all {done.bitstreams} present"
        )
    else:
        print(
            "warning: no bitstreams stored for it: its numbers cannot be re-checked (marked unverifiable); "
            f"submit again with --replace and --bitstreams (default {bitstreams_folder(args.file)})",
            file=sys.stderr,
        )
    return 0


def run_verify(args: argparse.Namespace) -> int:
    results = Path(args.results_dir)
    if not results.is_dir():
        raise CodecbenchError(f"no results folder at {results}")
    if args.submissions:
        subs = [(str(p), read_submission_file(p)) for p in args.submissions]
    else:
        subs = [(p.relative_to(results).as_posix(), s) for p, s in load_submission_files(results)]
        if not subs:
            raise CodecbenchError(f"no submissions under {results / 'submissions'}")
    result = verify_submissions(results, subs, progress=not args.quiet)
    for problem in result.problems:
        print(f"MISMATCH {problem}", file=sys.stderr)
    print(
        f"verified {result.verified} of {result.rows} row(s) in {result.submissions} submission(s): "
        f"{len(result.problems)} problem(s)"
    )
    return 0 if result.ok else 1


def run_build(args: argparse.Namespace) -> int:
    results = Path(args.results_dir)
    if args.check:
        names = stale(results)
        for name in names:
            print(f"out of date: {results / 'leaderboard' / name}", file=sys.stderr)
        print(f"leaderboard {'is out of date; run leaderboard build' if names else 'is up to date'}")
        return 1 if names else 0
    out = build(results)
    print(f"wrote {out / 'index.html'}, {out / 'leaderboard.md'}, {out / 'leaderboard.json'}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    tables = load_run(args.run_dir)
    data = make_submission(tables, args.codec, args.dataset)
    sub = validate(data, str(args.out))  # never write a file that submit would refuse
    folder = bitstreams_folder(args.out)
    count = export_bitstreams(tables, sub, folder)
    try:
        write_atomic(args.out, (json.dumps(data, indent=1, allow_nan=False) + "\n").encode("utf-8"))
    except OSError as e:
        raise CodecbenchError(f"cannot write {args.out}: {e.strerror or e}") from e
    print(
        f"wrote {args.out} ({data['codec']['name']} on {data['dataset']['name']}, {len(data['rows'])} rows) "
        f"and {count} bitstream(s) in {folder}"
    )
    return 0
