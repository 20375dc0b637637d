"""Speed benchmark: the NumPy engine against PyTorch on the CPU, same model, same process.

A training step is forward, backward and optimizer update of a whole model (input,
recurrent layers, output projection and cross-entropy). Each engine trains in its own process,
the two alternating, its thread counts interleaved step by step after warm-up; the median step
is reported as tokens per second, with the scaling over thread counts and the ratio of the two
engines (see `run`). Configurations a-e are the seeds' kinds of model; f is the character-model
preset that `rnnlab charlm train` trains.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from rnnlab.nn import CrossEntropyLoss, packed, parallel
from rnnlab.nn.models import ModelConfig, SequenceModel
from rnnlab.optim import Adagrad, Adam, clip_grad_norm_, clip_grad_value_
from rnnlab.tasks.charlm_config import PRESETS


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
    optimizer: str = "adam"  # adam, or adagrad with every gradient clipped to [-5, 5] (min-char-rnn's)
    dropout: float = 0.0
    clip_norm: float | None = None  # clip the global gradient norm to this

    def model_config(self) -> ModelConfig:
        return ModelConfig(self.vocab, self.vocab, self.cell, self.hidden_size, self.num_layers, self.dropout,
                           self.bidirectional, self.embedding_dim)

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
_preset = PRESETS["default"]  # `rnnlab charlm train`'s model and step (its data, scheduler and evaluation aside)
CONFIGS["f"] = BenchConfig(
    f"f: charlm preset, {_preset.cell.upper()} {_preset.hidden_size} x {_preset.num_layers}, batch "
    f"{_preset.batch_size}, seq {_preset.seq_len}", _preset.cell, _preset.hidden_size, _preset.num_layers,
    _preset.batch_size, _preset.seq_len, embedding_dim=_preset.embedding_dim, optimizer=_preset.optimizer,
    dropout=_preset.dropout, clip_norm=_preset.clip_norm)


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
        if config.clip_norm:
            clip_grad_norm_(params, config.clip_norm)
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
        if config.clip_norm:
            torch.nn.utils.clip_grad_norm_(params, config.clip_norm)
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


def time_engine(name: str, engine: str, threads: list[int], repeats: int, warmup: int,
                min_seconds: float) -> dict[int, list[tuple[float, float]]]:
    """Training steps of configuration `name` on one engine, its thread counts interleaved, in this process.

    Returns, per thread count, (wall seconds, CPU seconds) of each timed step after `warmup`.
    """
    trainer = numpy_trainer if engine == "numpy" else torch_trainer
    step, times = trainer(CONFIGS[name]), {n: [] for n in threads}

    def on(n: int):
        def timed() -> None:
            if engine == "torch":
                import torch

                torch.set_num_threads(n)
            else:
                parallel.set_num_threads(n)
            wall, used = time.perf_counter(), time.process_time()
            step()
            times[n].append((time.perf_counter() - wall, time.process_time() - used))

        return timed

    interleaved_medians([on(n) for n in threads], repeats, warmup, min_seconds)  # (the wrappers keep the times)
    return {n: t[warmup:] for n, t in times.items()}


def run(names: list[str], threads: list[int], repeats: int = 7, warmup: int = 3, sample_chars: int = 500,
        min_seconds: float = 5.0, rounds: int = 2) -> dict:
    """Time every named configuration at each thread count on both engines; a JSON-able report.

    Each engine trains in its own process, the two alternating for `rounds` rounds (so that neither
    finds the other's threads on the cores: PyTorch's OpenMP threads spin for a while after each step);
    within a process the thread counts are interleaved step by step. Training rows: tokens per second
    (median step) and CPU time over wall time per engine and thread count, the NumPy engine's scaling
    (most threads over fewest) and its ratio to PyTorch at PyTorch's best thread count. Sampling (one
    character at a time, batch 1) runs on one thread, both engines interleaved in this process.
    """
    import torch

    rows = []
    parallel.one_blas_thread()
    with threadpool_limits(1):
        peak = matmul_peak_gflops()
    for name in names:
        config = CONFIGS[name]
        tokens = config.batch * config.seq_len
        times = {(engine, n): [] for engine in ("numpy", "torch") for n in threads}
        for _ in range(rounds):
            for engine in ("numpy", "torch"):
                command = [sys.executable, "-m", "rnnlab.bench", name, engine, ",".join(map(str, threads)),
                           str(repeats), str(warmup), str(min_seconds / rounds)]
                result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
                for n, steps in result.items():
                    times[engine, int(n)] += steps
        timed = {key: np.array(t) for key, t in times.items()}  # (wall, CPU) seconds per step
        figures = {key: tokens / float(np.median(t[:, 0])) for key, t in timed.items()}
        best_torch = max(figures["torch", n] for n in threads)
        most = max(threads)
        rows.append({"config": config.name, "kind": "train",
                     "tokens_per_s": {f"{engine}@{n}": v for (engine, n), v in figures.items()},
                     "cpu_per_wall": {f"{e}@{n}": float(np.median(t[:, 1] / t[:, 0])) for (e, n), t in timed.items()},
                     "scaling": figures["numpy", most] / figures["numpy", min(threads)],
                     "ratio": figures["numpy", most] / best_torch,
                     "numpy_gflops": config.flops_per_step() * figures["numpy", most] / tokens / 1e9, **asdict(config)})
    torch.set_num_threads(1)
    for name in ("b", "c"):
        if name not in names:
            continue
        config = CONFIGS[name]
        samplers = [numpy_sampler(config), torch_sampler(config)]
        t_numpy, t_torch = interleaved_medians([lambda s=s: s(sample_chars) for s in samplers], 3, 1)
        rows.append({"config": config.name, "kind": "sample", "tokens_per_s": {"numpy@1": sample_chars / t_numpy,
                     "torch@1": sample_chars / t_torch}, "ratio": t_torch / t_numpy, **asdict(config)})
    return {"threads": threads, "torch_version": torch.__version__, "numpy_version": np.__version__,
            "step_products": "MKL, packed weights" if packed.mkl() else "NumPy's BLAS",
            "matmul_peak_gflops_one_core": peak, "rows": rows}


def format_table(report: dict) -> str:
    """Training rows: tokens/s and CPU/wall per engine and thread count, scaling, ratio to PyTorch's best."""
    threads = report["threads"]
    columns = [f"{engine}@{n}" for engine in ("numpy", "torch") for n in threads]
    lines = [f"numpy {report['numpy_version']} (LSTM/GRU step products: {report['step_products']}), torch "
             f"{report['torch_version']}, float32 matmul peak {report['matmul_peak_gflops_one_core']:.0f} GFLOP/s on "
             "one core; tokens/s (CPU time / wall time)",
             f"{'configuration':48s} {'what':6s} " + " ".join(f"{c:>17s}" for c in columns)
             + f" {'scaling':>8s} {'vs best torch':>13s} {'GFLOP/s':>8s}"]
    for row in report["rows"]:
        cells = []
        for c in columns:
            value = row["tokens_per_s"].get(c)
            load = row.get("cpu_per_wall", {}).get(c)
            cells.append(f"{'':>17s}" if value is None else f"{value:9.0f} ({load:.2f})" if load else f"{value:17.0f}")
        scaling = f"{row['scaling']:7.2f}x" if "scaling" in row else f"{'':8s}"
        gflops = f"{row['numpy_gflops']:8.1f}" if row.get("numpy_gflops") else f"{'':8s}"
        lines.append(f"{row['config'][:48]:48s} {row['kind']:6s} " + " ".join(cells)
                     + f" {scaling} {row['ratio']:12.2f}x {gflops}")
    return "\n".join(lines)


if __name__ == "__main__":  # one engine's training steps, for `run`: CONFIG ENGINE THREADS REPEATS WARMUP MIN_SECONDS
    _name, _engine, _threads, _repeats, _warmup, _seconds = sys.argv[1:]
    print(json.dumps(time_engine(_name, _engine, [int(n) for n in _threads.split(",")], int(_repeats),
                                 int(_warmup), float(_seconds))))
