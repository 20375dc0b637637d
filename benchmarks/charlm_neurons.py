"""Hidden units of a character model: which units track line position, quotes, brackets, ...

Trains a default-preset model on the embedded Tiny Shakespeare (or loads one with --ckpt), then
ranks its units by Pearson |r| with per-character features of the validation split: units are
chosen on its first 60% and scored on the rest (held out). The control is the same search on the
untrained network (same architecture, same seed). Checks the issue's acceptance: some unit tracks
the position within the line (characters since the last newline) with |r| >= 0.5 on held-out text.

Time: the default preset (2 x 256 LSTM, 3000 steps) trained in 319 s on the development machine
(2026-11-30; up to ~0.5 s a step when the machine is busy); the search itself takes seconds.

usage: python benchmarks/charlm_neurons.py [--out runs/neurons-bench] [--max-steps 3000]
       python benchmarks/charlm_neurons.py --ckpt RUN
"""

import argparse
import time

from rnnlab.diagnostics.neurons import study, summary, write_neurons_page
from rnnlab.tasks.charlm import CharLM
from rnnlab.tasks.charlm_config import build_model

THRESHOLD = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", help="a trained run folder (default: train one)")
    parser.add_argument("--out", default="runs/neurons-bench", help="run folder for the training run")
    parser.add_argument("--max-steps", type=int, default=3000, help="training steps (default: the preset's 3000)")
    args = parser.parse_args()

    if args.ckpt is None:
        start = time.perf_counter()
        CharLM.from_preset("default", max_steps=args.max_steps, sample_every=0).fit(run_dir=args.out)
        print(f"trained {args.max_steps} steps in {time.perf_counter() - start:.0f} s")
        args.ckpt = args.out
    lm = CharLM.load(args.ckpt)
    start = time.perf_counter()
    result = study(lm, build_model(lm.config, len(lm.vocab_)), top=3)
    page = write_neurons_page(f"{args.ckpt}/neurons.html", result, args.ckpt)
    print(f"search: {len(result['activations'])} characters, {len(result['names'])} units, "
          f"{time.perf_counter() - start:.0f} s; page {page}")
    print(f"{'feature':<14} {'unit':>10} {'r select':>9} {'r held':>8} {'control |r|':>12}")
    best = summary(result)
    for feature, row in best.items():
        print(f"{feature:<14} {row['name']:>10} {row['r_selection']:+9.3f} {row['r_held_out']:+8.3f} "
              f"{abs(row['control_r_held_out']):12.3f}")
    line = abs(best["line_position"]["r_held_out"])
    print(f"line position: |r| held out {line:.3f} (control {abs(best['line_position']['control_r_held_out']):.3f}); "
          f"acceptance |r| >= {THRESHOLD}: {'PASS' if line >= THRESHOLD else 'FAIL'}")


if __name__ == "__main__":
    main()
