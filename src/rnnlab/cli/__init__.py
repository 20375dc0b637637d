"""The `rnnlab` command: argument parsing only; the work is done by the library.

Each task's subcommand lives in its own module here (`charlm.py`, `classify.py`, ...) with a
`register(subparsers)` function. Every user error (`RnnlabError`) is printed on one line
and exits with status 2; argparse's own usage errors exit with 2 as well.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from rnnlab.cli.common import Output, Parser, add_json, json_to_stdout, limit_threads
from rnnlab.errors import RnnlabError


def _gradcheck(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rnnlab.diagnostics.gradcheck import gradcheck, grid, masked_grid, report_row

    output = Output(args.json)
    cells = tuple({"rnn": "rnn_tanh"}.get(c, c) for c in args.cell or ("rnn", "rnn_relu", "lstm", "gru"))
    configs = list(grid(cells, tuple(args.num_layers))) + list(masked_grid(cells))
    rows = [report_row(c, gradcheck(c)) for c in tqdm(configs, desc="gradcheck", disable=None, leave=False)]
    output.say(f"{'configuration':58s} {'worst tensor':22s} rel. error")
    for config, row in zip(configs, rows, strict=True):
        output.say(f"{config.label():58s} {row['worst_tensor']:22s} {row['worst_relative_error']:.2e}")
    worst = max(row["worst_relative_error"] for row in rows)
    output.say(f"{len(rows)} configurations, worst relative error {worst:.2e} (threshold {args.threshold:.0e})")
    labelled = [{"configuration": c.label(), **row} for c, row in zip(configs, rows, strict=True)]
    output.result({"command": "gradcheck", "configurations": labelled,
                   "worst_relative_error": worst, "threshold": args.threshold, "passed": worst < args.threshold})
    return 0 if worst < args.threshold else 1


def _demo(args: argparse.Namespace) -> int:
    from rnnlab.demos import DEMOS, run_demo

    if args.name is None:
        for name, about in DEMOS.items():
            print(f"{name:12s} {about}")
        return 0
    if args.name not in DEMOS:
        raise RnnlabError(f"unknown demo {args.name!r}; choose from: {', '.join(DEMOS)}")
    run_demo(args.name, args.rest)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="rnnlab", description="Learn, check and train recurrent neural networks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("gradcheck", help="check every hand-written gradient against central differences (float64)")
    p.add_argument("--cell", nargs="+", choices=["rnn", "rnn_relu", "lstm", "gru"],
                   help="cells to check, as the tasks name them (rnn: tanh; default: all four)")
    p.add_argument("--num-layers", nargs="+", type=int, default=[1, 2, 3], help="layer counts to check (default 1 2 3)")
    p.add_argument("--threshold", type=float, default=1e-6, help="fail above this relative error (default 1e-6)")
    add_json(p)
    p.set_defaults(run=_gradcheck)

    p = sub.add_parser("demo", help="run one of the seeds' examples (no name: list them)")
    p.add_argument("name", nargs="?")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="arguments passed to the demo")
    p.set_defaults(run=_demo)

    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "common"):  # charlm, ...
        importlib.import_module(f"rnnlab.cli.{module}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(json_to_stdout(sys.argv[1:] if argv is None else argv))
    try:
        if not hasattr(args, "threads"):
            return args.run(args)
        with limit_threads(args):  # every computing command has --threads
            return args.run(args)
    except RnnlabError as error:
        print(f"rnnlab: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        sys.stderr.close()
        return 0
    except OSError as error:  # a file that cannot be written (no permission, no space): say which, in one line
        print(f"rnnlab: error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
