"""The command line's argparse pieces that every layer may use: the CLI's commands and the demos alike.

`Parser` reports a usage error on one line, `rnnlab: error: demo sine: argument --test: expected an
integer in [1, 1000000], got 0`, and exits with status 2; `checked` builds the argument types that
refuse a value, naming the flag, unless an `rnnlab.checks` Check accepts it.
"""

from __future__ import annotations

import argparse
import typing
from pathlib import Path

from rnnlab.checks import Check


class Parser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line (`rnnlab: error: ...`) and exit status 2."""

    def error(self, message: str) -> typing.NoReturn:
        where = self.prog.removeprefix("rnnlab").strip()  # the command, e.g. "classify train"
        self.exit(2, f"rnnlab: error: {where + ': ' if where else ''}{message}\n")


def value_type(kind: type, optional: bool = False):
    """An argparse type: the text read as `kind` (and `none` as None when `optional`), one-line error otherwise."""

    def parse(text: str):
        if optional and text.lower() == "none":
            return None
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}{' or none' if optional else ''}, "
                                             f"got {text!r}") from None

    parse.__name__ = kind.__name__
    return parse


def checked(kind: type, check: Check):
    """An argparse type: the text read as `kind` and refused, naming the flag, unless `check` accepts it.

    argparse then reports `rnnlab: error: charlm sample: argument --length: expected an integer in [1, 10000000],
    got 0` on one line, before anything is loaded.
    """
    parse_kind = value_type(kind)

    def parse(text: str):
        value = parse_kind(text)
        if not check.accepts(value):
            raise argparse.ArgumentTypeError(f"expected {check.expected}, got {value!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


def output_file(text: str) -> Path:
    """An argparse type for a file to write (`--plot FILE.png`): refused, naming the flag, before any work, if
    its folder does not exist (a typo should neither cost a run nor create a folder) or it is a folder."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file name")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"the folder {path.parent} of {text} does not exist")
    return path
