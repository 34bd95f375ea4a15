"""``codecbench datasets fetch NAME`` and ``codecbench datasets info NAME``.

``fetch`` downloads what is public, says where licensed sets come from, and validates what is in the
root folder; it exits 0 only when every selected sequence is present and valid.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from codecbench.datasets import get_dataset
from codecbench.datasets.base import Dataset
from codecbench.datasets.fetch import default_root, fetch


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="download, validate or describe the standard test sets")
    cmds = p.add_subparsers(dest="datasets_command", metavar="ACTION", required=True)

    f = cmds.add_parser(
        "fetch",
        help="download a public dataset, or validate a licensed one, into a root folder",
        description="Download what is public (resuming, verifying, extracting); for licensed sets print "
        "where to get them and where to put them. Then validate every selected sequence; "
        "exit 0 only when all are present with at least their published frame count.",
    )
    f.add_argument("name", help="dataset name (see: codecbench list datasets)")
    f.add_argument("--root", type=Path, help="folder of the raw files (default: $CODECBENCH_DATA/NAME)")
    f.add_argument("--sequences", help="comma-separated sequence names (default: all)")
    f.add_argument("--keep-archives", action="store_true", help="keep downloaded archives after extraction")
    f.add_argument("--no-progress", action="store_true", help="no progress bars")
    f.set_defaults(func=run_fetch)

    i = cmds.add_parser("info", help="print a dataset's sequences and where they come from")
    i.add_argument("name")
    i.set_defaults(func=run_info)


def _names(spec: str | None) -> list[str] | None:
    return [s.strip() for s in spec.split(",") if s.strip()] if spec else None


def run_fetch(args: argparse.Namespace) -> int:
    ds = get_dataset(args.name)
    if ds.name == "sample":
        print("the sample dataset is generated locally on first use; there is nothing to fetch")
        return 0
    report = fetch(
        ds,
        args.root,
        _names(args.sequences),
        keep_archives=args.keep_archives,
        progress=not args.no_progress,
    )
    print(report.summary())
    if report.complete:
        return 0
    root = report.root
    flag = "" if args.root is None else f" --root {root}"
    print(f"missing or invalid: {', '.join(s.sequence.name for s in report.problems)}")
    if not ds.public:
        print(f"put the files listed above in {root}, then run: codecbench datasets fetch {ds.name}{flag}")
    return 1


def sequence_table(ds: Dataset) -> str:
    """The sequences of ``ds`` as an aligned text table."""
    header = ("sequence", "size", "fps", "frames", "bits", "chroma", "file")
    rows = [
        (s.name, f"{s.width}x{s.height}", f"{s.fps:g}", str(s.frames), str(s.bit_depth), s.chroma, s.file)
        for s in ds.sequences
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]
    ]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def run_info(args: argparse.Namespace) -> int:
    ds = get_dataset(args.name)
    print(f"{ds.name}: {ds.description}")
    for label, value in (("homepage", ds.homepage), ("license", ds.license)):
        if value:
            print(f"{label}: {value}")
    if ds.name != "sample":
        print(f"default root: {default_root(ds.name)}")
    print()
    print(sequence_table(ds))
    if ds.public:
        print("\ndownloads (codecbench datasets fetch):")
        for dl in ds.downloads:
            check = "sha256" if dl.sha256 else "md5" if dl.md5 else "no published checksum"
            print(f"  {dl.url}  [{check}]")
    elif ds.instructions:
        print(f"\n{ds.instructions}")
    return 0
