"""Peak memory of `rnnlab charlm train` on a large corpus (the corpus is streamed, not loaded).

Writes a text of the requested size (Tiny Shakespeare's lines, shuffled, repeated, with some
non-ASCII lines mixed in), trains the default model on it for a few steps in a child process,
and prints the child's peak resident memory beside the corpus size.

usage: python benchmarks/charlm_memory.py [--megabytes 200] [--steps 20]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("RNNLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def write_corpus(path: Path, megabytes: float) -> int:
    lines = (DATA / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    lines += ["Ça va, señor? Grüß Gott! 你好，世界。\n", "Ἐν ἀρχῇ ἦν ὁ λόγος. 🌍\n"]
    rng, target, written = np.random.default_rng(0), int(megabytes * 1e6), 0
    with open(path, "w", encoding="utf-8") as out:
        while written < target:
            block = "".join(lines[i] for i in rng.permutation(len(lines)))
            out.write(block)
            written += len(block.encode("utf-8"))
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=200)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="charlm-memory-") as tmp:
        corpus = Path(tmp) / "big.txt"
        size = write_corpus(corpus, args.megabytes)
        command = [sys.executable, "-m", "rnnlab", "charlm", "train", "--data", str(corpus), "--out",
                   str(Path(tmp) / "run"), "--max-steps", str(args.steps), "--eval-every", str(args.steps),
                   "--sample-every", "0", "--quiet"]
        start = time.time()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        seconds = time.time() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports KiB
        ids_mb = (Path(tmp) / "run" / "ids.bin").stat().st_size / 1e6
    print(f"corpus {size / 1e6:.0f} MB ({ids_mb:.0f} MB of token ids on disk), {args.steps} training steps "
          f"in {seconds:.0f} s: peak resident memory {peak_mb:.0f} MB (target < 1024 MB)")


if __name__ == "__main__":
    main()
