"""Speed: the NumPy engine beside PyTorch (`rnnlab bench`) and beside the seed's min-char-rnn script.

1. `rnnlab bench`'s configurations a-e: training steps at each thread count (default 1 and 2), NumPy
   engine and PyTorch, same process, all interleaved, median of repeated steps, with CPU time over wall
   time beside each figure, the engine's scaling and its ratio to PyTorch at PyTorch's best thread count;
   sampling one character at a time.
2. examples/min_char_rnn.py (the seed's model on the engine, float32) vs ../shared/peers/min_char_rnn.py
   (the seed's own code): characters per second on Tiny Shakespeare, five runs of each, alternating,
   the median ratio of neighbouring runs, and the smoothed loss each reaches after the same number of steps.

usage: python benchmarks/speed.py [--threads 1,2] [--iters 2000] [--json PATH]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from rnnlab.bench import CONFIGS, format_table, run

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RNNLAB_DATA", REPO.parent / "shared" / "data"))
PEER = REPO.parent / "shared" / "peers" / "min_char_rnn.py"


def min_char_rnn_race(iters: int, threads: int, repeats: int = 5) -> dict:
    """Both scripts run `repeats` times, alternating; each pair of neighbouring runs gives a ratio."""
    text = str(DATA / "tinyshakespeare" / "input.txt")
    env = os.environ | {"OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    commands = {"seed script": [sys.executable, str(PEER), text, "--iters", str(iters)],
                "rnnlab engine": [sys.executable, str(REPO / "examples" / "min_char_rnn.py"), text,
                                  "--iters", str(iters), "--sample-every", "0"]}
    results = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
            results[name].append(json.loads(out.strip().splitlines()[-1]))
    race = {name: {"chars_per_s": statistics.median(r["chars_per_s"] for r in runs),
                   "smooth_loss_per_char": runs[0]["smooth_loss_per_char"]} for name, runs in results.items()}
    pairs = zip(results["rnnlab engine"], results["seed script"], strict=True)
    race["ratio"] = statistics.median(ours["chars_per_s"] / seed["chars_per_s"] for ours, seed in pairs)
    return race


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    report = run(list(CONFIGS), sorted({int(n) for n in args.threads.split(",")}))
    print(format_table(report))
    race = min_char_rnn_race(args.iters, 1)
    print(f"\nmin-char-rnn on Tiny Shakespeare, {args.iters} steps of 25 characters, 5 alternating runs each, "
          f"one thread")
    print(f"{'':16s} {'chars/s':>9s} {'smoothed loss/char':>19s}")
    for name in ("seed script", "rnnlab engine"):
        r = race[name]
        print(f"{name:16s} {r['chars_per_s']:9.0f} {r['smooth_loss_per_char']:19.4f}")
    print(f"ratio {race['ratio']:.2f}x (median over neighbouring pairs of runs)")
    if args.json:
        Path(args.json).write_text(json.dumps({"bench": report, "min_char_rnn": race}, indent=1))


if __name__ == "__main__":
    main()
