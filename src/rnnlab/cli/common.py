"""The command grammar every task shares, built once.

    rnnlab TASK train   --data PATH --out RUN [--force] [--quiet] [settings...]
    rnnlab TASK train   --resume RUN [--max-steps N | --epochs N | --minutes M]
    rnnlab TASK eval    --ckpt RUN --data PATH [--json [FILE]] [--plot FILE.png]
    rnnlab TASK predict --ckpt RUN ... [--json [FILE]]

The settings flags come from the task's `Config` fields (`hidden_size` -> `--hidden-size`), with
their defaults, choices and help, so the command line cannot drift from the API. Only the flags a
user typed reach the task (`given_settings`); errors in their values name the flag.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import shutil
import sys
import tempfile
import time
import typing
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from rnnlab import checks
from rnnlab.argparsing import Parser, checked, value_type  # noqa: F401  (the commands import them from here)
from rnnlab.config import DEVICES, ENGINE_FIELDS, ENGINES, RESUME_SETTINGS, Config, allows_none, base_type
from rnnlab.errors import InvalidArgument, RnnlabError


def flag(name: str) -> str:
    """The command-line flag of a setting: `hidden_size` -> `--hidden-size`."""
    return "--" + name.replace("_", "-")


def add_settings(parser: argparse.ArgumentParser, config_class: type[Config]) -> None:
    """One flag per field of `config_class`, in a 'settings' group, with the field's help, default and choices."""
    group = parser.add_argument_group("settings (defaults from the API; `none` turns an optional setting off)")
    hints = typing.get_type_hints(config_class)
    for f in fields(config_class):
        kind, optional = base_type(hints[f.name]), allows_none(hints[f.name])
        default = None if f.default is MISSING else f.default
        text = f.metadata.get("help", "")
        text += "" if "default" in text else f" (default: {default})"
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": text}
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif kind is tuple:
            kwargs.update(nargs="*", metavar="NAME")
        else:
            kwargs["type"] = value_type(kind, optional)
            if f.metadata.get("choices"):
                kwargs["choices"] = list(f.metadata["choices"]) + ([None] if optional else [])
                kwargs["metavar"] = "{" + ",".join(map(str, f.metadata["choices"])) + "}"
        group.add_argument(flag(f.name), **kwargs)


def given_settings(args: argparse.Namespace, config_class: type[Config]) -> dict[str, Any]:
    """The settings the user typed (only those), as keyword arguments for the task."""
    values = {f.name: getattr(args, f.name) for f in fields(config_class) if hasattr(args, f.name)}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def build(task_class, settings: dict[str, Any]):
    """`task_class(**settings)`, with a bad value reported under the flag the user typed."""
    try:
        return task_class(**settings)
    except InvalidArgument as error:
        raise error.for_flag(flag(error.name)) from None


def add_train_flags(parser: argparse.ArgumentParser, data_help: str, budgets: tuple[str, ...]) -> None:
    """--data, --out, --resume, --force, --quiet, --threads: the same for every task's `train`."""
    parser.add_argument("--data", help=data_help)
    parser.add_argument("--out", help="run folder to create (checkpoints, log.jsonl, report); default "
                        "runs/TASK-DATE-TIME")
    parser.add_argument("--resume", metavar="RUN", help="continue the run in this folder where it stopped; only "
                        f"{' / '.join(map(flag, budgets))} may be given with it")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing run folder (once the new run has written its first checkpoint)")
    add_quiet(parser)
    add_threads(parser)
    add_encoding(parser)


def add_tune(parser: argparse.ArgumentParser) -> None:
    """--tune, on `train` of the tasks that `rnnlab.tasks.tuning` can search."""
    parser.add_argument("--tune", action="store_true", help="choose the settings not given by cross-validation on "
                        "the training data only (a small grid: docs/classify.md), then train the best on all of it")


def search(task, X, y, kind: str, settings: dict[str, Any], out: Output, nearest: bool = True):
    """--tune: search the settings not given (`settings`) on the training data (X, y) alone, print the search,
    and set the best on `task`. Returns the `rnnlab.tasks.tuning.TuneResult`."""
    from rnnlab.tasks.tuning import search_space, tune

    space = search_space(kind, fixed=set(settings))
    out.say(f"searching {', '.join(space) or 'nothing (every searched setting was given)'} by cross-validation "
            f"on the {len(X)} training examples ...")
    result = tune(task, X, y, space, nearest=nearest)
    for line in result.lines():
        out.say(line)
    task.set_params(**result.best_params)
    return result


def add_encoding(parser: argparse.ArgumentParser) -> None:
    """--encoding, on every command that reads a text file (--data, --test, --val)."""
    parser.add_argument("--encoding", metavar="ENC", help="the text encoding of the files read, e.g. latin-1, "
                        "cp1252, utf-16 (default: UTF-8; a byte-order mark and CRLF line ends are always accepted)")


def saved_encoding(args: argparse.Namespace, saved: dict | None) -> AbstractContextManager:
    """Reading as a run read its data: `--encoding` when typed (already in force), else the encoding the run's
    data source recorded (`saved["encoding"]`), else UTF-8."""
    from rnnlab.data.files import text_encoding

    if getattr(args, "encoding", None) or not saved or not saved.get("encoding"):
        return contextlib.nullcontext()
    return text_encoding(saved["encoding"])


def file_encoding(args: argparse.Namespace) -> AbstractContextManager[str]:
    """A context in which the readers decode text files as `--encoding` says (UTF-8 without it)."""
    from rnnlab.data.files import text_encoding

    try:
        return text_encoding(getattr(args, "encoding", None))
    except InvalidArgument as error:
        raise error.for_flag("--encoding") from None


def add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no settings echo")


def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=checked(int, checks.threads), default=None,
                        help="threads the NumPy engine computes with (default: every core this process may use; "
                             "under torchrun, its share)")


@contextlib.contextmanager
def limit_threads(args: argparse.Namespace) -> Iterator[None]:
    """Within: the engine computes on `--threads` threads (`rnnlab.nn.parallel`); BLAS on one under each."""
    from rnnlab.nn import parallel

    with parallel.threads(getattr(args, "threads", None)):
        yield


@contextlib.contextmanager
def one_writer(args: argparse.Namespace) -> Iterator[None]:
    """Under torchrun, only rank 0 writes the run of a `train` command: the other ranks train quietly into a
    scratch folder (on --resume, a copy of the run, its text ids.bin linked, not copied), deleted at the end."""
    from rnnlab.backends.distributed import world

    rank, size = world()
    if size == 1 or not hasattr(args, "resume"):
        yield
        return
    if rank == 0:
        Output(quiet=args.quiet).say(f"torchrun: {size} processes, each with --batch-size examples: the global "
                                     f"batch is {size} x --batch-size")
        yield
        return
    with (tempfile.TemporaryDirectory(prefix=f"rnnlab-rank{rank}-") as scratch,
          open(os.devnull, "w") as silent, contextlib.redirect_stdout(silent)):
        run = Path(scratch) / "run"
        if args.resume:
            run.mkdir()
            for path in Path(args.resume).iterdir():
                if path.name == "ids.bin":
                    (run / path.name).symlink_to(path.resolve())
                elif path.is_file() and path.name != ".lock":
                    shutil.copy2(path, run / path.name)
            args.resume = str(run)
        else:
            args.out, args.force = str(run), False
        args.quiet = True
        yield


def add_ckpt(parser: argparse.ArgumentParser, engine: bool = True) -> None:
    """--ckpt RUN and, with `engine`, what computes the loaded network: --engine, --device, --amp."""
    parser.add_argument("--ckpt", required=True, metavar="RUN", help="run folder (its best checkpoint) or a "
                        "checkpoint .json file")
    if engine:
        parser.add_argument("--engine", choices=ENGINES, default="numpy", help="what computes the network: numpy "
                            "(default) or torch, whichever trained it (a checkpoint is the same for both)")
        parser.add_argument("--device", choices=DEVICES, default="cpu", help="where the torch engine computes "
                            "(default cpu; auto: cuda when there is one)")
        parser.add_argument("--amp", action="store_true", help="bfloat16 autocast in the torch engine")


def load_run(task_class, args: argparse.Namespace, name: str = "best"):
    """`task_class.load(--ckpt)` on the engine the flags name, a bad engine setting reported under its flag."""
    engine = {k: getattr(args, k) for k in ENGINE_FIELDS if hasattr(args, k)}
    return build(functools.partial(task_class.load, args.ckpt, name), engine)


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE.json",
                        help="print the result as one JSON document on standard output (other text goes to "
                        "standard error), or write it to FILE.json")


def json_to_stdout(argv: list[str]) -> list[str]:
    """`--json` followed by anything but a .json file name or `-` means standard output, so that
    `rnnlab classify predict --ckpt RUN --json Dostoevsky` does not read the name as the output file.

    >>> json_to_stdout(["predict", "--json", "Dostoevsky"])
    ['predict', '--json', '-', 'Dostoevsky']
    >>> json_to_stdout(["eval", "--json", "out.json"])
    ['eval', '--json', 'out.json']
    """
    argv = list(argv)
    for i, word in enumerate(argv):
        if word == "--json" and i + 1 < len(argv) and argv[i + 1] != "-" and not argv[i + 1].endswith(".json"):
            return argv[:i + 1] + ["-"] + json_to_stdout(argv[i + 1:])
    return argv


def add_plot(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--plot", metavar="FILE.png", help=f"write {what} as a PNG image here")


def check_train_args(args: argparse.Namespace, settings: dict[str, Any], budgets: tuple[str, ...],
                     data_flags: tuple[str, ...] = (), needs_data: bool = True) -> None:
    """The rules of `train`, checked before anything is read or written.

    --resume takes no settings but the budget, and none of --data, --out, --force or the task's
    `data_flags` (the run reads its data as it did). A new run needs --data (unless the task has a
    default) and, without --out, goes to a new folder runs/TASK-DATE-TIME.
    """
    if args.resume:
        allowed = (*budgets, *RESUME_SETTINGS)  # a larger budget, what to do on NaN, the engine
        extra = [flag(k) for k in settings if k not in allowed]
        extra += [flag(k) for k in ("data", "out", "force", *data_flags) if getattr(args, k, None) not in (None, False)]
        if extra:
            raise RnnlabError(f"--resume continues a run as it was configured and reads its data as it did; only "
                              f"{', '.join(map(flag, allowed))} may be given with it, not {', '.join(extra)}")
    elif needs_data and not args.data:
        raise RnnlabError(f"--data is required (the data to train on), or --resume RUN; see rnnlab {args.command} "
                          f"train --help")
    elif not args.out:  # a new folder for each run: runs/charlm-20261130-141502
        args.out = f"runs/{args.command}-{time.strftime('%Y%m%d-%H%M%S')}"


class Output:
    """Where a command's results go: text for people, or `--json` for programs.

    With `--json` (or `--json -`) the JSON document is the only thing on standard output and
    `say` writes to standard error; with `--json FILE` text stays on standard output and the
    document is written to FILE (atomically). `quiet` drops the settings echo (`note`).
    """

    def __init__(self, json_target: str | None = None, quiet: bool = False) -> None:
        self.json_target, self.quiet = json_target, quiet
        self.stream = sys.stderr if json_target == "-" else sys.stdout

    def say(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def note(self, text: str) -> None:
        if not self.quiet:
            self.say(text)

    def result(self, document: dict[str, Any]) -> None:
        if self.json_target is None:
            return
        text = json.dumps(finite(document), indent=1, ensure_ascii=False, allow_nan=False, default=_plain) + "\n"
        if self.json_target == "-":
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            from rnnlab.checkpoint import atomic_write_bytes

            atomic_write_bytes(Path(self.json_target), text.encode("utf-8"))
            self.say(f"wrote {self.json_target}")


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays as plain JSON numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def finite(document: Any) -> Any:
    """The document with NaN and infinities as null (JSON has no NaN)."""
    if isinstance(document, dict):
        return {k: finite(v) for k, v in document.items()}
    if isinstance(document, list | tuple):
        return [finite(v) for v in document]
    if isinstance(document, float) and not math.isfinite(document):
        return None
    return document
