"""`rnnlab bench`: the NumPy engine against PyTorch, side by side (needs PyTorch)."""

import argparse

from rnnlab import checks
from rnnlab.bench import CONFIGS
from rnnlab.cli.common import Output, add_json, checked
from rnnlab.errors import RnnlabError

MAX_REPEATS = 1000  # each timed step of configuration c takes seconds


def register(sub) -> None:
    p = sub.add_parser("bench", help="time training and sampling against PyTorch on the CPU")
    p.add_argument("configs", nargs="*", default=list(CONFIGS),
                   help=f"configurations {', '.join(CONFIGS)} (default all)")
    p.add_argument("--threads", dest="thread_counts", type=thread_counts, default=[1],
                   help="thread counts to time both engines at, comma-separated, e.g. 1,2 (default 1)")
    p.add_argument("--repeats", type=checked(int, checks.int_in(1, MAX_REPEATS)), default=7,
                   help=f"timed steps per engine, at least (median reported; at most {MAX_REPEATS})")
    p.add_argument("--warmup", type=checked(int, checks.int_in(0, MAX_REPEATS)), default=3,
                   help="untimed steps first")
    add_json(p)
    p.set_defaults(run=run)


def thread_counts(text: str) -> list[int]:
    """'1,2' -> [1, 2]: each a thread count the checks allow."""
    one = checked(int, checks.threads)
    return sorted({one(part) for part in text.split(",")})


def run(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise RnnlabError("rnnlab bench compares against PyTorch: pip install 'rnnlab[torch]'") from None
    from rnnlab.bench import format_table
    from rnnlab.bench import run as run_bench

    unknown = [c for c in args.configs if c not in CONFIGS]
    if unknown:
        raise RnnlabError(f"unknown configuration {unknown[0]!r}; choose from {', '.join(CONFIGS)}")
    output = Output(args.json)
    report = run_bench(args.configs, args.thread_counts, args.repeats, args.warmup)
    output.say(format_table(report))
    output.result({"command": "bench", **report})
    return 0
