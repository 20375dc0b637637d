"""Grapheme to phoneme on CMUdict: test word and phoneme error rates, rnnlab's NumPy engine beside PyTorch.

Both engines train the same `Seq2Seq` (characters in, ARPAbet phonemes out: a bi-LSTM encoder of 128 units
each way, an LSTM decoder of 256 with Luong "general" attention and input feeding, embeddings of 64, dropout
0.2, label smoothing 0.1, batches of 64, gradient norm clipped at 5: the task's defaults; Adam at 2e-3 with the
cosine schedule, annealed to 1e-4 over as many epochs as the engine, timed on a probe of 60 steps, fits in the
budget) on the same pairs in the same order for the same number of minutes, in two processes at the same
time with one core each. The PyTorch row is `engine="torch"`: the same data pipeline,
loss, optimizer and loop, with every forward and backward pass computed by the network's torch.nn twin.
Every pronunciation of a training word is a training pair. The dev split picks the best epoch (greedy exact
match); the test split is scored once, at the end, with greedy decoding and with beam search (decoding is the
NumPy engine's for both rows: the same arithmetic on each engine's trained weights).

A word is right when the prediction equals any of its reference pronunciations (word error rate = 1 - exact
match); the phoneme error rate is the edit distance to the closest reference over that reference's length.
Also printed: five test words with their predictions, and decoding speed, batched against one word at a
time (greedy and beam, on one thread and on every core: batching is what lets the matrix products use them).

usage: python benchmarks/seq2seq.py [--minutes 29] [--engines numpy torch] [--beam 5] [--out runs/g2p]
"""

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rnnlab.data.pairs import read_pairs
from rnnlab.nn import parallel
from rnnlab.tasks.seq2seq import Seq2Seq

DATA = Path(os.environ.get("RNNLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "cmudict"
SHOWN = 5  # test words printed with their predictions


def split(name: str) -> tuple[list[str], list[str]]:
    pairs = read_pairs(DATA / f"{name}.tsv")
    return [w for w, _ in pairs], [p for _, p in pairs]


def epochs_in(minutes: float, engine: str, train: tuple[list[str], list[str]], dev: tuple[list[str], list[str]]) -> int:
    """How many epochs this engine trains in `minutes` here, measured on a probe of 60 steps and one validation
    (after a warm-up that compiles the kernels), so that the cosine schedule ends as the time does."""
    probe_x, probe_y = train[0][::30][:60 * 64], train[1][::30][:60 * 64]  # 60 steps of 64 pairs across the file
    Seq2Seq(target_tokens="word", engine=engine, epochs=1, minutes=None).fit(
        probe_x[:256], probe_y[:256], dev[0][:64], dev[1][:64], progress=False)  # warm-up
    model = Seq2Seq(target_tokens="word", engine=engine, epochs=1, minutes=None)
    model.fit(probe_x, probe_y, dev[0][:64], dev[1][:64], progress=False)
    start = time.perf_counter()
    model.evaluate(*dev)  # what each epoch's validation costs
    per_epoch = model.train_seconds_ / 60 * -(-len(train[0]) // 64) + time.perf_counter() - start
    return max(1, int(0.97 * 60 * minutes / per_epoch))


def train_engine(engine: str, minutes: float, out: str) -> dict:
    """Train one engine on one core; its best checkpoint goes to OUT/ENGINE."""
    import torch

    torch.set_num_threads(1)
    with parallel.threads(1):  # the engine's threads (BLAS: one each)
        (train_x, train_y), (dev_x, dev_y) = split("train"), split("dev")
        epochs = epochs_in(minutes, engine, (train_x, train_y), (dev_x, dev_y))
        model = Seq2Seq(target_tokens="word", engine=engine, lr_schedule="cosine", epochs=epochs, patience=None,
                        minutes=minutes)
        model.fit(train_x, train_y, dev_x, dev_y, run_dir=Path(out) / engine, progress=False,
                  info={"data": str(DATA / "train.tsv"), "val": str(DATA / "dev.tsv")})
        return {"engine": "rnnlab (NumPy)" if engine == "numpy" else f"PyTorch {torch.__version__}",
                "run": str(Path(out) / engine), "train_seconds": model.train_seconds_, "epochs": len(model.history_),
                "steps": model.history_[-1]["step"], "tokens_per_s": model.history_[-1]["tokens_per_s"],
                "parameters": model.model_.num_parameters(), "best_dev_exact_match": model.best_val_exact_match_}


def score_run(row: dict, beam: int) -> None:
    """Test scores of a run's best checkpoint, greedy and beam (decoded by the NumPy engine, one thread)."""
    test_x, test_y = split("test")
    model = Seq2Seq.load(row["run"])
    with parallel.threads(1):  # the engine's threads (BLAS: one each)
        for width in (1, beam):
            start = time.perf_counter()
            row[width] = model.evaluate(test_x, test_y, beam=width)
            row[f"decode_seconds_{width}"] = time.perf_counter() - start
        references: dict[str, list[str]] = {}
        for word, pronunciation in zip(test_x, test_y, strict=True):
            references.setdefault(word, []).append(pronunciation)
        shown = list(references)[:: len(references) // SHOWN][:SHOWN]
        row["examples"] = [(w, p, references[w]) for w, p in zip(shown, model.predict(shown, beam=beam), strict=True)]


def decoding_speed(run: str, threads: int, beam: int) -> tuple[float, float]:
    """(batched, one at a time) seconds per word, decoding the distinct test words with `threads` BLAS threads."""
    words = list(dict.fromkeys(split("test")[0]))
    model = Seq2Seq.load(run)
    with parallel.threads(threads):  # the engine's threads (BLAS: one each)
        model.predict(words[:50], beam=beam)  # warm-up
        start = time.perf_counter()
        model.predict(words, beam=beam)
        batched = (time.perf_counter() - start) / len(words)
        alone = words[:: 5 if beam == 1 else 20]  # one at a time: a sample, every 5th (or 20th) word
        start = time.perf_counter()
        for word in alone:
            model.predict([word], beam=beam)
        return batched, (time.perf_counter() - start) / len(alone)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=29.0, help="training time of each engine (29)")
    parser.add_argument("--engines", nargs="+", default=["numpy", "torch"], choices=["numpy", "torch"])
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--out", default="runs/g2p", help="where the runs go, one folder per engine (runs/g2p)")
    args = parser.parse_args()
    jobs = [(engine, args.minutes, args.out) for engine in args.engines]
    with ProcessPoolExecutor(len(jobs)) as pool:  # side by side, one core each
        rows = list(pool.map(train_engine, *zip(*jobs, strict=True)))
    for row in rows:
        score_run(row, args.beam)
    speeds = {(threads, width): decoding_speed(rows[0]["run"], threads, width)
              for threads in (1, os.cpu_count() or 1) for width in (1, args.beam)}
    results = {"minutes": args.minutes, "beam": args.beam, "rows": rows,
               "decoding": [{"threads": t, "beam": w, "batched_s_per_word": b, "alone_s_per_word": a}
                            for (t, w), (b, a) in speeds.items()]}
    (Path(args.out) / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(f"\nCMUdict G2P (train 121,335 pairs / dev 6,259 words / test 6,359 words, stress removed), "
          f"{args.minutes:g} minutes of training per engine, one core each, side by side")
    print(f"{'engine':19s} {'params':>8s} {'epochs':>6s} {'tokens/s':>8s} {'dev exact':>9s} "
          f"{'test WER greedy':>15s} {'PER':>6s} {f'WER beam {args.beam}':>11s} {'PER':>6s} {'decode s':>9s}")
    for r in rows:
        g, b = r[1], r[args.beam]
        print(f"{r['engine']:19s} {r['parameters']:8d} {r['epochs']:6d} {r['tokens_per_s']:8.0f} "
              f"{100 * r['best_dev_exact_match']:8.2f}% {100 * g['sequence_error_rate']:14.2f}% "
              f"{100 * g['token_error_rate']:5.2f}% {100 * b['sequence_error_rate']:10.2f}% "
              f"{100 * b['token_error_rate']:5.2f}% {r[f'decode_seconds_{args.beam}']:9.1f}")
    for r in rows:
        print(f"\n{r['engine']}: trained {r['train_seconds']:.0f} s ({r['steps']} steps)")
        by_length = " ".join(f"{b['length']}: {100 * (1 - b['exact_match']):.1f}%" for b in r[args.beam]["by_length"])
        print(f"  word error rate by word length (beam {args.beam}): {by_length}")
        for word, predicted, refs in r["examples"]:
            mark = "right" if predicted in refs else "wrong"
            print(f"  {word:14s} {predicted:28s} {mark:5s} (reference: {' | '.join(refs)})")
    print(f"\ndecoding the {rows[0]['engine']} model, milliseconds per test word (one at a time: a sample of them)")
    print(f"{'threads':>7s} {'search':>8s} {'batched':>8s} {'one at a time':>14s} {'speed-up':>8s}")
    for (threads, width), (batched, alone) in speeds.items():
        search = "greedy" if width == 1 else f"beam {width}"
        print(f"{threads:7d} {search:>8s} {1000 * batched:8.3f} {1000 * alone:14.3f} {alone / batched:7.1f}x")


if __name__ == "__main__":
    main()
