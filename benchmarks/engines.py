"""Engines: training throughput of the NumPy engine, `engine="torch"` and plain PyTorch, side by side.

For each of `rnnlab bench`'s configurations (a-f), tokens per second of one training step (forward,
backward, optimizer update of the whole model) with:
  numpy        the NumPy engine (rnnlab's default),
  engine cpu   engine="torch" on the CPU (`TorchEngine`: PyTorch forward/backward, NumPy loss and optimizer),
  torch cpu    plain PyTorch on the CPU (the peer, as `rnnlab bench`),
and, when PyTorch sees a GPU, engine="torch" on CUDA with and without bfloat16 autocast (--amp) and
plain PyTorch on CUDA with and without it. The trainers of a configuration are timed interleaved
after warm-up, and the median step is reported (`rnnlab.bench.interleaved_medians`), with each
column's ratio to the NumPy engine (above 1: faster than NumPy).

The report is a list of sections (`SECTIONS`), each a function of the parsed arguments that returns
its title, text and figures: the training table above, then the throughput of a character model trained
by 1 and by 2 processes under torchrun (DistributedDataParallel on the CPU, gloo).

usage: python benchmarks/engines.py [--threads 1] [--configs abcdef] [--repeats 7] [--warmup 3]
                                    [--min-seconds 5] [--ddp-steps 60] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from rnnlab.bench import CONFIGS, engine_trainer, interleaved_medians, numpy_trainer, torch_trainer
from rnnlab.nn import parallel
from rnnlab.tasks.charlm import embedded_text


def trainers() -> tuple[list[tuple[str, object]], str | None]:
    """(column label, factory config -> step function) for every trainer this machine can run; a note or None."""
    columns = [("numpy", numpy_trainer), ("engine cpu", engine_trainer), ("torch cpu", torch_trainer)]
    if not torch.cuda.is_available():
        return columns, "no CUDA device: engine cuda (with and without amp) and torch cuda skipped"
    columns += [("engine cuda", lambda c: engine_trainer(c, "cuda")),
                ("engine cuda amp", lambda c: engine_trainer(c, "cuda", amp=True)),
                ("torch cuda", lambda c: torch_trainer(c, "cuda")),
                ("torch cuda amp", lambda c: torch_trainer(c, "cuda", amp=True))]
    return columns, None


def training_section(args: argparse.Namespace) -> dict:
    """Training tokens per second of every trainer on every configuration asked for."""
    columns, note = trainers()
    rows = []
    for name in args.configs:
        config = CONFIGS[name]
        steps = [factory(config) for _, factory in columns]
        seconds = interleaved_medians(steps, args.repeats, args.warmup, args.min_seconds)
        tokens = config.batch * config.seq_len
        rows.append({"config": config.name, "tokens_per_s": {label: tokens / s for (label, _), s in
                                                             zip(columns, seconds, strict=True)}})
    labels = [label for label, _ in columns]
    width = max(max(len(label) for label in labels), 14) + 2  # a cell: "tok/s ratio"
    lines = [f"{'configuration':48s}" + "".join(f"{label:>{width}s}" for label in labels)]
    for row in rows:
        rate, base = row["tokens_per_s"], row["tokens_per_s"]["numpy"]
        lines.append(f"{row['config']:48s}" + "".join(f"{rate[label]:{width - 7}.0f} {rate[label] / base:5.2f}x"
                                                       for label in labels))
    if note:
        lines.append(f"note: {note}")
    return {"title": "training, tokens/s (ratio to the NumPy engine)", "text": "\n".join(lines), "rows": rows,
            "note": note}


def ddp_section(args: argparse.Namespace) -> dict:
    """Character-model training with engine="torch" in 1 and 2 processes (torchrun, gloo), --batch-size 32 each.

    Each run trains `--ddp-steps` steps of an LSTM 256 x 2 on Tiny Shakespeare's opening (seq 64) with one
    thread per process; the throughput is the global one (every process's tokens) from the run's last log
    line, so the second process's share counts.
    """
    if args.ddp_steps == 0:
        return {"title": "DDP throughput", "text": "skipped (--ddp-steps 0)", "rows": []}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        text = Path(scratch) / "text.txt"
        text.write_text(embedded_text()[:400_000])
        for processes in (1, 2):
            run = Path(scratch) / f"run{processes}"
            launch = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                       str(processes)] if processes > 1 else [sys.executable])
            subprocess.run([*launch, "-m", "rnnlab", "charlm", "train", "--data", str(text), "--out", str(run),
                            "--engine", "torch", "--hidden-size", "256", "--num-layers", "2", "--seq-len", "64",
                            "--batch-size", "32", "--max-steps", str(args.ddp_steps), "--eval-every",
                            str(args.ddp_steps), "--sample-every", "0", "--eval-chars", "2000", "--quiet",
                            "--threads", "1"], check=True, capture_output=True,
                           env=os.environ | {"OMP_NUM_THREADS": "1"})
            last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
            rows.append({"processes": processes, "tokens_per_s": processes * last["tokens_per_s"]})
    base = rows[0]["tokens_per_s"]
    lines = [f"{'processes':>9s} {'global batch':>12s} {'tokens/s':>9s} {'scaling':>8s}"]
    lines += [f"{r['processes']:9d} {32 * r['processes']:12d} {r['tokens_per_s']:9.0f} {r['tokens_per_s'] / base:7.2f}x"
              for r in rows]
    return {"title": f"DDP throughput: charlm LSTM 256 x 2, seq 64, --batch-size 32 per process, {args.ddp_steps} "
                     f"steps, 1 thread each (torchrun --standalone, gloo)", "text": "\n".join(lines), "rows": rows}


SECTIONS = [training_section, ddp_section]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                  if line.startswith("model name")]
        cpu = models[0] if models else cpu
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return f"{os.cpu_count()} CPUs ({cpu}){gpu}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS and PyTorch threads (default 1)")
    parser.add_argument("--configs", default="".join(CONFIGS),
                        help=f"which configurations (default {''.join(CONFIGS)})")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds at least (default 7, as rnnlab bench)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    parser.add_argument("--min-seconds", type=float, default=5.0,
                        help="keep timing a configuration until this long has passed (default 5)")
    parser.add_argument("--ddp-steps", type=int, default=60, help="steps of each DDP run (default 60; 0: skip)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    unknown = sorted(set(args.configs) - set(CONFIGS))
    if unknown:
        parser.error(f"--configs: no configuration {', '.join(unknown)} (choose from {''.join(CONFIGS)})")
    print(f"threads {args.threads}, machine {machine()}\n"
          f"numpy {np.__version__}, torch {torch.__version__}; median step over at least {args.repeats} interleaved "
          f"rounds and {args.min_seconds:g} s per configuration, after {args.warmup} warm-up rounds")
    torch.set_num_threads(args.threads)
    sections = []
    with parallel.threads(args.threads):  # the engine's threads (BLAS: one each)
        for section in SECTIONS:
            report = section(args)
            print(f"\n{report['title']}\n{report['text']}", flush=True)
            sections.append(report)
    if args.json:
        Path(args.json).write_text(json.dumps({"threads": args.threads, "machine": machine(),
                                               "sections": sections}, indent=1))


if __name__ == "__main__":
    main()
