"""`rnnlab experiment NAME`: run one of the notes' questions as an experiment and print its verdict."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rnnlab import checks
from rnnlab.cli.common import Output, add_json, add_quiet, add_threads, checked
from rnnlab.errors import RnnlabError


def register(sub) -> None:
    from rnnlab.experiments import EXPERIMENTS

    p = sub.add_parser("experiment", help="answer one of the notes' questions by an experiment (plots, figures, "
                       "verdict)", description=f"Experiments: {', '.join(sorted(EXPERIMENTS))}.")
    p.add_argument("name", metavar="NAME", help=f"the experiment: {', '.join(sorted(EXPERIMENTS))}")
    p.add_argument("--out", metavar="DIR", help="folder for the plots and figures.json (default "
                   "runs/experiment-NAME); written only once the experiment has finished")
    p.add_argument("--quick", action="store_true", help="a tiny set-up that runs in seconds (checks the mechanics; "
                   "its figures answer nothing)")
    p.add_argument("--seed", type=checked(int, checks.seed), default=0, help="seed for weights and data (default 0)")
    add_json(p)
    add_quiet(p)
    add_threads(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnnlab.experiments import describe, run_experiment

    out = Path(args.out or f"runs/experiment-{args.name}")
    if out.exists() and not out.is_dir():  # refused now, not after the experiment has run
        raise RnnlabError(f"{out}: exists and is not a folder; choose another --out")
    output = Output(args.json, args.quiet)
    output.note(f"{args.name}: {describe(args.name)}{' (--quick)' if args.quick else ''}")
    start = time.perf_counter()
    result = run_experiment(args.name, quick=args.quick, seed=args.seed)
    seconds = time.perf_counter() - start
    written = result.write(out)
    output.say(result.verdict)
    output.note(f"wrote {', '.join(str(p) for p in written)} ({seconds:.1f} s)")
    output.result({"command": "experiment", "out": str(out), "seconds": seconds, "quick": args.quick,
                   **result.document()})
    return 0
