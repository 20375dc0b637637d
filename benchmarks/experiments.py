"""Every experiment of `rnnlab experiment` at its default size: seconds and verdict, one row each.

    python benchmarks/experiments.py                  # all of them
    python benchmarks/experiments.py vanishing        # some of them
    python benchmarks/experiments.py --out runs/bench # also write each one's plots and figures.json there

1 BLAS thread; the seconds are wall-clock time of the experiment alone (the issue's limit: 120 s on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from rnnlab.experiments import EXPERIMENTS, run_experiment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=sorted(EXPERIMENTS), help="experiments (default all)")
    parser.add_argument("--out", help="write each experiment's files into OUT/NAME")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiment {unknown[0]!r}; choose from: {', '.join(sorted(EXPERIMENTS))}")
    rows = []
    with threadpool_limits(1):
        for name in args.names:
            start = time.perf_counter()
            result = run_experiment(name)
            rows.append((name, time.perf_counter() - start, result.verdict))
            if args.out:
                result.write(Path(args.out) / name)
    print(f"{'experiment':12s} {'seconds':>8s}  verdict")
    for name, seconds, verdict in rows:
        print(f"{name:12s} {seconds:8.1f}  {verdict}")
    return 0 if all(seconds < 120 for _, seconds, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
