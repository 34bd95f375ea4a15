"""The ``codecbench`` command line. Each subcommand lives in its own module of this package.

A command module defines ``add_parser(subparsers)``, which adds its parser and sets
``func`` to a function taking the parsed arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from codecbench import __version__
from codecbench.errors import CodecbenchError

#: Modules of this package that define subcommands, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = ("run", "list", "verify", "datasets", "bd", "report", "weights", "leaderboard")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codecbench", description="Benchmark classical, learned and generative video codecs."
    )
    parser.add_argument("--version", action="version", version=f"codecbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"codecbench.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, dispatch, and turn user errors into a message and a non-zero exit."""
    # Third-party imports (lpips, compressai) trip this torch deprecation; it says nothing to users.
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.* is deprecated", category=FutureWarning)
    # Plugins that print their own banner for a warning (DiV-INR's fallback) need no second copy.
    warnings.filterwarnings("ignore", message=r"DIVINR FALLBACK", category=RuntimeWarning)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CodecbenchError as e:
        print(f"codecbench: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("codecbench: interrupted; finished jobs are kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
