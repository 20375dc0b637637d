"""Engines: training throughput of the NumPy engine, `engine="torch"` and plain PyTorch, side by side.

For each of `rnnlab bench`'s configurations a-e, tokens per second of one training step (forward,
backward, optimizer update of the whole model) with:
  numpy        the NumPy engine (rnnlab's default),
  engine cpu   engine="torch" on the CPU (`TorchEngine`: PyTorch forward/backward, NumPy loss and optimizer),
  torch cpu    plain PyTorch on the CPU (the peer, as `rnnlab bench`),
and, when PyTorch sees a GPU, engine="torch" on CUDA with and without bfloat16 autocast (--amp) and
plain PyTorch on CUDA with and without it. The trainers of a configuration are timed interleaved
after warm-up, and the median step is reported (`rnnlab.bench.interleaved_medians`), with each
column's ratio to the NumPy engine (above 1: faster than NumPy).

The report is a list of sections (`SECTIONS`), each a function of the parsed arguments that returns
its title, text and figures; a section (for instance DDP throughput) is added by appending one.

usage: python benchmarks/engines.py [--threads 1] [--configs abcde] [--repeats 7] [--warmup 3]
                                    [--min-seconds 5] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from rnnlab.bench import CONFIGS, engine_trainer, interleaved_medians, numpy_trainer, torch_trainer


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


SECTIONS = [training_section]  # the DDP throughput section goes here


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
    parser.add_argument("--configs", default="".join(CONFIGS), help="which configurations (default abcde)")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds at least (default 7, as rnnlab bench)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    parser.add_argument("--min-seconds", type=float, default=5.0,
                        help="keep timing a configuration until this long has passed (default 5)")
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
    with threadpool_limits(args.threads):
        for section in SECTIONS:
            report = section(args)
            print(f"\n{report['title']}\n{report['text']}", flush=True)
            sections.append(report)
    if args.json:
        Path(args.json).write_text(json.dumps({"threads": args.threads, "machine": machine(),
                                               "sections": sections}, indent=1))


if __name__ == "__main__":
    main()
