"""Character model quality: validation loss after a fixed wall-clock budget, rnnlab beside PyTorch.

Both engines train the same network (same preset: cell, sizes, dropout, batches, Adam with warm-up
and cosine decay, gradient clipping) on the same streams of Tiny Shakespeare (the first 95%) for
the same number of minutes, and are scored on the same held-out last 5% in nats per character.
Each engine's step count is set from its own measured speed, so that its schedule ends on time.

With --parallel the engines train at the same time in two processes, one core each (2 cores:
the same budget for both, in half the wall-clock time).

usage: python benchmarks/charlm_quality.py [--preset default] [--minutes 5] [--engines numpy torch]
       python benchmarks/charlm_quality.py --preset large --minutes 30 --parallel
"""

import argparse
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from rnnlab.data.streams import TextStreams
from rnnlab.nn import parallel
from rnnlab.tasks.charlm import CharLM
from rnnlab.tasks.charlm_config import PRESETS

DATA = Path(os.environ.get("RNNLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
TEXT = DATA / "tinyshakespeare" / "input.txt"


def numpy_run(preset: str, minutes: float) -> dict:
    quick = dict(sample_every=0, eval_chars=PRESETS[preset].seq_len + 2)  # a negligible final evaluation
    CharLM.from_preset(preset, max_steps=5, **quick).fit(TEXT, progress=False)  # warm-up: compiles the kernels
    probe = CharLM.from_preset(preset, max_steps=25, **quick).fit(TEXT, progress=False)
    seconds_per_step = probe.loop_.seconds / 25  # training time only: evaluations are not counted
    steps = int(0.93 * 60 * minutes / seconds_per_step)
    lm = CharLM.from_preset(preset, max_steps=steps, minutes=minutes, sample_every=0).fit(TEXT, progress=True)
    return {"engine": "rnnlab (NumPy)", "steps": lm.loop_.step, "seconds": lm.loop_.seconds,
            "best_val_loss": lm.loop_.best, "tokens_per_s": lm.loop_.tokens / lm.loop_.seconds,
            "sample": lm.sample(300, temperature=0.8, seed=0, prime="ROMEO:")}


def torch_run(preset: str, minutes: float) -> dict:
    import torch

    from rnnlab.backends.torch_backend import TorchSequenceModel
    from rnnlab.data.text import CharVocab
    from rnnlab.nn.models import ModelConfig

    c = PRESETS[preset]
    torch.manual_seed(c.seed)
    text = TEXT.read_text(encoding="utf-8")
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text).astype(np.int64)
    split = int(len(ids) * (1 - c.val_fraction))
    train_ids, val = ids[:split], ids[split:]
    model = TorchSequenceModel(ModelConfig(len(vocab), len(vocab), c.cell, c.hidden_size, c.num_layers, c.dropout,
                                           False, c.embedding_dim))
    loss_fn = torch.nn.CrossEntropyLoss()

    def evaluate() -> float:
        model.eval()
        total, count, state = 0.0, 0, None
        batch = max(1, min(c.batch_size, (len(val) - 1) // (c.seq_len + 2)))
        with torch.no_grad():
            for x, y in TextStreams(val, batch, c.seq_len):
                logits, state = model(torch.from_numpy(x), state)
                total += torch.nn.functional.cross_entropy(logits.reshape(-1, len(vocab)),
                                                           torch.from_numpy(y).reshape(-1), reduction="sum").item()
                count += y.size
        model.train()
        return total / count

    def make(max_steps: int):
        optimizer = torch.optim.Adam(model.parameters(), lr=c.lr)
        warmup = min(c.warmup_steps, max_steps - 1)
        scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [
            torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=warmup),
            torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, max_steps - warmup),
                                                       eta_min=c.lr * c.min_lr_ratio)], [warmup])
        return optimizer, scheduler

    def train(max_steps: int, budget_s: float):
        optimizer, scheduler = make(max_steps)
        streams = TextStreams(train_ids, c.batch_size, c.seq_len)
        state, best, step, start = None, math.inf, 0, time.time()
        while step < max_steps and time.time() - start < budget_s:
            x, y, reset = streams.next_batch()
            if reset:
                state = None
            elif state is not None:
                state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
            logits, state = model(torch.from_numpy(x), state)
            loss = loss_fn(logits.reshape(-1, len(vocab)), torch.from_numpy(y).reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), c.clip_norm)
            optimizer.step()
            scheduler.step()
            step += 1
            if step % c.eval_every == 0 or step == max_steps:
                best = min(best, evaluate())
        return step, time.time() - start, best

    train(5, math.inf)  # warm-up
    probe_start = time.time()
    train(25, math.inf)
    seconds_per_step = (time.time() - probe_start) / 25
    torch.manual_seed(c.seed)
    model = TorchSequenceModel(model.config)
    steps, seconds, best = train(int(0.93 * 60 * minutes / seconds_per_step), 60 * minutes)
    return {"engine": f"PyTorch {torch.__version__}", "steps": steps, "seconds": seconds, "best_val_loss": best,
            "tokens_per_s": steps * c.batch_size * c.seq_len / seconds, "sample": ""}


def run_engine(engine: str, preset: str, minutes: float, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    with parallel.threads(threads):  # the engine's threads (BLAS: one each)
        return numpy_run(preset, minutes) if engine == "numpy" else torch_run(preset, minutes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default", choices=list(PRESETS))
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--engines", nargs="+", default=["numpy", "torch"], choices=["numpy", "torch"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parallel", action="store_true", help="train the engines at the same time, one core each")
    args = parser.parse_args()
    jobs = [(engine, args.preset, args.minutes, args.threads) for engine in args.engines]
    if args.parallel:
        with ProcessPoolExecutor(len(jobs)) as pool:
            rows = list(pool.map(run_engine, *zip(*jobs, strict=True)))
    else:
        rows = [run_engine(*job) for job in jobs]
    print(f"\npreset {args.preset}, {args.minutes:g} minutes, {args.threads} thread(s), Tiny Shakespeare "
          f"(validation: last 5%)")
    print(f"{'engine':22s} {'steps':>6s} {'seconds':>8s} {'tokens/s':>9s} {'val nats/char':>14s} {'bits/char':>9s}")
    for r in rows:
        print(f"{r['engine']:22s} {r['steps']:6d} {r['seconds']:8.0f} {r['tokens_per_s']:9.0f} "
              f"{r['best_val_loss']:14.4f} {r['best_val_loss'] / math.log(2):9.4f}")
    for r in rows:
        if r["sample"]:
            print(f"\nsample ({r['engine']}, temperature 0.8):\nROMEO:{r['sample']}")


if __name__ == "__main__":
    main()
