"""``arraymix demo`` and ``arraymix experiment``: the command line.

A package of its own, which the library never imports. Optional
dependencies are imported inside the commands; a missing one ends the
command with a one-line message naming the extra to install, and exit
status 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["UsageError", "main"]

BACKENDS = ("numpy", "torch", "jax")


class UsageError(Exception):
    """A problem the user can fix: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _need(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"{module} is not installed; install it with: pip install \"arraymix[{extra}]\""
        ) from None


def _out_dir(path: str) -> Path:
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".arraymix-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"cannot write to --out {path}: {e.strerror or e}") from None
    return out


def _at_least(minimum: int) -> Any:
    """An argparse type: an int no smaller than ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return parse


def _default_backend() -> str:
    for name in ("torch", "jax"):
        if importlib.util.find_spec(name) is not None:
            return name
    return "numpy"


# --- demo ---------------------------------------------------------------------
# --- main ---------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="arraymix", description="MixUp and CutMix for every array library.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    d = sub.add_parser("demo", help="mix bundled photographs and write PNG figures")
    d.add_argument("--out", default=".", help="folder for the figures (default: here)")
    d.add_argument("--backend", choices=BACKENDS, default=None,
                   help="array library (default: the first of torch, jax installed)")
    d.add_argument("--size", type=_at_least(1), default=128,
                   help="side of each image in pixels")
    d.add_argument("--seed", type=_at_least(0), default=0)
    d.set_defaults(run=lambda a: importlib.import_module("arraymix.cli.demo").demo(a))
    e = sub.add_parser("experiment", help="train on bundled digits with and without mixing")
    e.add_argument("--out", default="experiment", help="folder for results (default: ./experiment)")
    e.add_argument("--backend", choices=("torch", "jax"), default="torch")
    e.add_argument("--quick", action="store_true",
                   help="fewer seeds, epochs and settings (under a minute)")
    e.add_argument("--seeds", type=_at_least(1), default=None, help="seeds per method")
    e.add_argument("--seed", type=_at_least(0), default=0,
                   help="the first seed (seeds N, N+1, ...): a run is repeatable")
    e.add_argument("--studies", nargs="+", choices=("generalisation", "noise"),
                   default=["generalisation", "noise"], help="which studies to run")
    e.add_argument("--models", nargs="+", choices=("mlp", "cnn"), default=None,
                   help="networks of the generalisation study (default: both; --quick: mlp)")
    e.add_argument("--epochs", type=_at_least(1), default=None)
    e.set_defaults(run=lambda a: importlib.import_module("arraymix.cli.experiment").run(a))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        status: int = args.run(args)
        return status
    except UsageError as e:
        print(f"arraymix: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.exit(main())

