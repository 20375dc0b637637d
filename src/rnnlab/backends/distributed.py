"""Data parallel training over the processes `torchrun` starts: which process this is, which part of a batch is its.

    torchrun --nproc_per_node N -m rnnlab TASK train ... --engine torch

starts N processes (ranks 0..N-1; torchrun sets RANK and WORLD_SIZE). Every rank draws the same
global batch of N x --batch-size examples (same seed, same order) and computes its own part of it;
`torch.nn.parallel.DistributedDataParallel` averages the gradients across ranks during the backward
pass (gloo on the CPU, NCCL on GPUs); each rank then takes the same optimizer step, so the weights
stay the same everywhere. Scaled by `share`, the averaged gradient is that of the loss over the
whole global batch: N processes train exactly as one process with N x --batch-size would, to float
tolerance. Rank 0 alone writes the run (the other ranks write to a private scratch folder).

Without torchrun (WORLD_SIZE unset) everything here is the identity: rank 0 of 1.
"""

from __future__ import annotations

import os

import numpy as np


def world() -> tuple[int, int]:
    """(this process's rank, the number of processes): (0, 1) unless started by torchrun."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def shard(batch: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """This rank's part of a global batch (B, ...) and the factor its loss gradient is scaled by.

    The parts are as equal as can be; a rank left without examples (a batch smaller than the world)
    computes the first one at weight 0, so that every rank still takes part in the gradient average.
    A loss that is a mean weighted by `weights` (B,) (1 each by default: examples; tokens per
    sentence; class weights) over N ranks is the whole batch's when each rank's gradient is scaled
    by N x its share of the weight, since DDP averages the ranks' gradients.

    >>> shard(np.arange(5))  # one process: the whole batch
    (array([0, 1, 2, 3, 4]), 1.0)
    """
    rank, size = world()
    if size == 1:
        return batch, 1.0
    weights = np.ones(len(batch)) if weights is None else np.asarray(weights, np.float64)
    rows = np.array_split(np.arange(len(batch)), size)[rank]
    if len(rows) == 0:
        return batch[:1], 0.0
    return batch[rows], size * float(weights[rows].sum() / weights.sum())


def columns(batch_size: int) -> slice:
    """This rank's streams of a character model's global batch (rank r: columns r*B .. (r+1)*B - 1)."""
    rank, _ = world()
    return slice(rank * batch_size, (rank + 1) * batch_size)


def gather_columns(array: np.ndarray) -> np.ndarray:
    """Under torchrun, every process's (L, B, H) columns side by side, (L, N*B, H), in rank order (a collective:
    every process calls it at the same point). In one process, the array itself."""
    if world()[1] == 1:
        return array
    import torch
    import torch.distributed as dist

    device = "cuda" if dist.get_backend() == "nccl" else "cpu"  # (NCCL moves GPU tensors only)
    mine = torch.from_numpy(np.ascontiguousarray(array)).to(device)
    parts = [torch.empty_like(mine) for _ in range(world()[1])]
    dist.all_gather(parts, mine)
    return np.concatenate([p.cpu().numpy() for p in parts], axis=1)


def start(device_type: str) -> None:
    """Join torchrun's process group (once): gloo for the CPU, NCCL for CUDA. Nothing to do in one process."""
    import torch.distributed as dist

    if world()[1] > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
