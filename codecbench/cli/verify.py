"""``codecbench verify DIR``: re-decode every stored bitstream and check it against results.csv."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codecbench.run.verify import verify_run


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="re-decode a run's bitstreams and check sizes and decoded hashes")
    p.add_argument("run_dir", type=Path, help="a run folder (--out of codecbench run)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    checked, problems = verify_run(args.run_dir, progress=not args.quiet)
    for p in problems:
        print(f"MISMATCH {p}", file=sys.stderr)
    print(f"verified {checked} bitstream(s): {len(problems)} mismatch(es)")
    return 1 if problems else 0
