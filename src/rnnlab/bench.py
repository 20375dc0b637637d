"""Speed benchmark: the NumPy engine against PyTorch on the CPU, same model, same process.

A training step is forward, backward and optimizer update of a whole model (input,
recurrent layers, output projection and cross-entropy). The two engines are timed
interleaved (one NumPy step, one PyTorch step, ...) after warm-up, with the same number
of threads, and the median is reported as tokens per second and their ratio.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from rnnlab.nn import CrossEntropyLoss
from rnnlab.nn.models import ModelConfig, SequenceModel
from rnnlab.optim import Adagrad, Adam, clip_grad_value_


@dataclass(frozen=True)
class BenchConfig:
    name: str
    cell: str
    hidden_size: int
    num_layers: int
    batch: int
    seq_len: int
    vocab: int = 65
    embedding_dim: int | None = 64  # None: one-hot input
    bidirectional: bool = False
    variable_lengths: bool = False  # lengths drawn from 5..seq_len, masked
    optimizer: str = "adam"

    def model_config(self) -> ModelConfig:
        return ModelConfig(self.vocab, self.vocab, self.cell, self.hidden_size, self.num_layers,
                           bidirectional=self.bidirectional, embedding_dim=self.embedding_dim)

    def flops_per_step(self) -> float:
        """Multiply-adds x 2 of the matrix products in one training step (backward = 2x forward).

        Nominal: as computed one input row per step. The NumPy engine's table path (`forward_ids`)
        does fewer for the first layer, so its GFLOP/s over this count is an effective rate.
        """
        gates = {"rnn": 1, "lstm": 4, "gru": 3}[self.cell] * self.hidden_size
        D, tokens = 2 if self.bidirectional else 1, self.batch * self.seq_len
        input_size = self.vocab if self.embedding_dim is None else self.embedding_dim
        total = 0
        for layer in range(self.num_layers):
            layer_input = input_size if layer == 0 else D * self.hidden_size
            total += D * 2 * tokens * (layer_input + self.hidden_size) * gates
        total += 2 * tokens * D * self.hidden_size * self.vocab
        return 3.0 * total


CONFIGS = {
    "a": BenchConfig("a: min-char-rnn RNN 100, batch 1, seq 25", "rnn", 100, 1, 1, 25, embedding_dim=None,
                     optimizer="adagrad"),
    "b": BenchConfig("b: LSTM 128, batch 32, seq 64", "lstm", 128, 1, 32, 64),
    "c": BenchConfig("c: LSTM 512 x 2, batch 64, seq 100", "lstm", 512, 2, 64, 100),
    "d": BenchConfig("d: GRU 256 x 2, batch 32, seq 100", "gru", 256, 2, 32, 100),
    "e": BenchConfig("e: bi-LSTM 128, batch 32, lengths 5-64, masked", "lstm", 128, 1, 32, 64,
                     bidirectional=True, variable_lengths=True),
}


def make_batch(config: BenchConfig, seed: int = 0):
    """Random ids and targets (T, B), and lengths (B,) (all seq_len unless variable)."""
    rng = np.random.default_rng(seed)
    T, B = config.seq_len, config.batch
    ids = rng.integers(0, config.vocab, size=(T, B))
    targets = rng.integers(0, config.vocab, size=(T, B))
    lengths = rng.integers(5, T + 1, size=B) if config.variable_lengths else np.full(B, T)
    return ids, targets, lengths


def numpy_trainer(config: BenchConfig):
    """A function that runs one training step of the NumPy engine (returns the loss)."""
    return _rnnlab_trainer(config, lambda net: net)


def engine_trainer(config: BenchConfig, device: str = "cpu", amp: bool = False):
    """The same step with `engine="torch"`: the same SequenceModel (same seed, same initial weights),
    loss, optimizer and loop, its forward/backward computed by PyTorch (`TorchEngine`) on `device`."""
    from rnnlab.backends.torch_engine import TorchEngine

    return _rnnlab_trainer(config, lambda net: TorchEngine(net, device=device, amp=amp))


def _rnnlab_trainer(config: BenchConfig, wrap):
    model = wrap(SequenceModel(config.model_config(), seed=0))
    params = model.parameters()
    optimizer = Adagrad(params, lr=0.1) if config.optimizer == "adagrad" else Adam(params, lr=1e-3)
    loss_fn = CrossEntropyLoss(reduction="sum" if config.optimizer == "adagrad" else "mean")
    ids, targets, lengths = make_batch(config)
    mask = np.arange(config.seq_len)[:, None] < lengths[None, :] if config.variable_lengths else None

    def step() -> float:
        optimizer.zero_grad()
        logits, _ = model(ids, mask=mask)
        loss = loss_fn(logits, targets, mask)
        model.backward(loss_fn.backward())
        if config.optimizer == "adagrad":
            clip_grad_value_(params, 5.0)
        optimizer.step()
        return loss

    return step


def torch_trainer(config: BenchConfig, device: str = "cpu", amp: bool = False):
    """The same step in plain PyTorch (same model, loss, optimizer) on `device`, bfloat16 autocast with `amp`."""
    import torch

    from rnnlab.backends.torch_backend import TorchSequenceModel

    torch.manual_seed(0)
    model = TorchSequenceModel(config.model_config()).to(device)
    params = list(model.parameters())
    if config.optimizer == "adagrad":
        optimizer = torch.optim.Adagrad(params, lr=0.1)
    else:
        optimizer = torch.optim.Adam(params, lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="sum" if config.optimizer == "adagrad" else "mean")
    ids, targets, lengths = (torch.from_numpy(a).to(device) for a in make_batch(config))
    mask = torch.arange(config.seq_len, device=device)[:, None] < lengths[None, :] if config.variable_lengths else None
    if config.variable_lengths:
        targets = targets.masked_fill(~mask, -100)

    def step() -> float:
        optimizer.zero_grad()
        with torch.autocast(torch.device(device).type, torch.bfloat16, enabled=amp):
            logits, _ = model(ids, mask=mask)
        loss = loss_fn(logits.float().reshape(-1, config.vocab), targets.reshape(-1))
        loss.backward()
        if config.optimizer == "adagrad":
            torch.nn.utils.clip_grad_value_(params, 5.0)
        optimizer.step()
        return loss.item()  # waits for the device

    return step


def numpy_sampler(config: BenchConfig):
    """Generate characters one at a time (batch 1) with the NumPy engine."""
    model = SequenceModel(config.model_config(), seed=0).eval()
    rng = np.random.default_rng(0)

    def sample(n: int) -> None:
        state, token = None, np.zeros((1, 1), np.int64)
        for _ in range(n):
            logits, state = model(token, state)
            p = np.exp(logits[0, 0] - logits[0, 0].max())
            token[0, 0] = rng.choice(config.vocab, p=p / p.sum())

    return sample


def torch_sampler(config: BenchConfig):
    import torch

    from rnnlab.backends.torch_backend import TorchSequenceModel

    torch.manual_seed(0)
    model = TorchSequenceModel(config.model_config()).eval()

    @torch.inference_mode()
    def sample(n: int) -> None:
        state, token = None, torch.zeros((1, 1), dtype=torch.long)
        for _ in range(n):
            logits, state = model(token, state)
            token[0, 0] = torch.multinomial(torch.softmax(logits[0, 0], -1), 1)[0]

    return sample


def interleaved_medians(fns: list, repeats: int, warmup: int, min_seconds: float = 0.0) -> list[float]:
    """Median seconds per call of each function, calls interleaved so drift hits all alike.

    At least `repeats` rounds, and more (up to 500) until `min_seconds` have passed: a small model's
    step takes a millisecond, and a few of them would all fall inside one burst of machine noise.
    """
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    began = time.perf_counter()
    while len(times[0]) < repeats or (time.perf_counter() - began < min_seconds and len(times[0]) < 500):
        for fn, record in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            record.append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def matmul_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    """Float32 matrix-product throughput of this machine (NumPy's BLAS), GFLOP/s."""
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(names: list[str], threads: int, repeats: int = 7, warmup: int = 3, sample_chars: int = 500,
        min_seconds: float = 5.0) -> dict:
    """Time every named configuration (training steps for at least `min_seconds`); returns a JSON-able report."""
    import torch

    torch.set_num_threads(threads)
    rows = []
    with threadpool_limits(threads):
        peak = matmul_peak_gflops()
        for name in names:
            config = CONFIGS[name]
            tokens = config.batch * config.seq_len
            t_numpy, t_torch = interleaved_medians([numpy_trainer(config), torch_trainer(config)], repeats, warmup,
                                                   min_seconds)
            rows.append({"config": config.name, "kind": "train", "numpy_tokens_per_s": tokens / t_numpy,
                         "torch_tokens_per_s": tokens / t_torch, "ratio": t_torch / t_numpy,
                         "numpy_gflops": config.flops_per_step() / t_numpy / 1e9, **asdict(config)})
        for name in ("b", "c"):
            if name not in names:
                continue
            config = CONFIGS[name]
            samplers = [numpy_sampler(config), torch_sampler(config)]
            t_numpy, t_torch = interleaved_medians([lambda s=s: s(sample_chars) for s in samplers], 3, 1)
            rows.append({"config": config.name, "kind": "sample", "numpy_tokens_per_s": sample_chars / t_numpy,
                         "torch_tokens_per_s": sample_chars / t_torch, "ratio": t_torch / t_numpy,
                         "numpy_gflops": None, **asdict(config)})
    return {"threads": threads, "torch_version": torch.__version__, "numpy_version": np.__version__,
            "matmul_peak_gflops": peak, "rows": rows}


def format_table(report: dict) -> str:
    lines = [f"threads {report['threads']}, numpy {report['numpy_version']}, torch {report['torch_version']}, "
             f"float32 matmul peak {report['matmul_peak_gflops']:.0f} GFLOP/s",
             f"{'configuration':50s} {'what':6s} {'numpy tok/s':>12s} {'torch tok/s':>12s} {'ratio':>6s} "
             f"{'GFLOP/s':>8s}"]
    for row in report["rows"]:
        gflops = f"{row['numpy_gflops']:8.1f}" if row["numpy_gflops"] else f"{'':8s}"
        lines.append(f"{row['config']:50s} {row['kind']:6s} {row['numpy_tokens_per_s']:12.0f} "
                     f"{row['torch_tokens_per_s']:12.0f} {row['ratio']:5.2f}x {gflops}")
    return "\n".join(lines)
