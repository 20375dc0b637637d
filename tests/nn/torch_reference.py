"""Run the same configuration in rnnlab and in torch.nn and return both results side by side."""

import numpy as np

torch = None
try:
    import torch
except ImportError:  # the parity tests skip themselves
    pass

from rnnlab.diagnostics.gradcheck import GradcheckConfig, build_layer  # noqa: E402

TORCH_CLASSES = {"rnn_tanh": "RNN", "rnn_relu": "RNN", "lstm": "LSTM", "gru": "GRU"}


def torch_layer(config: GradcheckConfig, input_size: int, hidden_size: int, dtype):
    kwargs = dict(num_layers=config.num_layers, bidirectional=config.bidirectional, batch_first=config.batch_first,
                  dtype=dtype)
    if config.cell.startswith("rnn_"):
        kwargs["nonlinearity"] = config.cell[4:]
    if config.proj_size:
        kwargs["proj_size"] = config.proj_size
    return getattr(torch.nn, TORCH_CLASSES[config.cell])(input_size, hidden_size, **kwargs)


def compare(config: GradcheckConfig, dtype=np.float64, input_size=5, hidden_size=6, seq_len=7, batch=3, seed=0):
    """Max abs difference, relative to the reference's scale, of outputs, final states and all gradients."""
    torch_dtype = {np.float64: torch.float64, np.float32: torch.float32}[dtype]
    ours = build_layer(config, input_size, hidden_size, seed, dtype)
    theirs = torch_layer(config, input_size, hidden_size, torch_dtype)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(seed)
    is_lstm, D = config.cell == "lstm", 2 if config.bidirectional else 1
    T, B = seq_len, batch
    x = rng.normal(size=(B, T, input_size) if config.batch_first else (T, B, input_size)).astype(dtype)
    sizes = (config.proj_size or hidden_size, hidden_size)[: 1 + is_lstm]  # h (projected or not), c
    states = [rng.normal(size=(config.num_layers * D, B, size)).astype(dtype) for size in sizes]
    t_x = torch.tensor(x, requires_grad=True)
    t_states = [torch.tensor(s, requires_grad=True) for s in states]
    hx = (tuple(states) if is_lstm else states[0]) if config.with_hx else None
    t_hx = (tuple(t_states) if is_lstm else t_states[0]) if config.with_hx else None
    out, finals = ours(x, hx)
    t_out, t_finals = theirs(t_x, t_hx)
    finals, t_finals = (finals, t_finals) if is_lstm else ((finals,), (t_finals,))
    R = rng.normal(size=out.shape).astype(dtype)
    R_states = [rng.normal(size=f.shape).astype(dtype) for f in finals]
    result = ours.backward(R, *R_states)
    loss = (t_out * torch.from_numpy(R)).sum()
    loss = loss + sum((f * torch.from_numpy(r)).sum() for f, r in zip(t_finals, R_states, strict=True))
    loss.backward()
    pairs = [("output", out, t_out), *(("final state", a, b) for a, b in zip(finals, t_finals, strict=False))]
    d_x = result[0] if config.with_hx else result
    pairs.append(("d input", d_x, t_x.grad))
    if config.with_hx:
        d_states = result[1] if is_lstm else (result[1],)
        pairs += [("d initial state", a, b.grad) for a, b in zip(d_states, t_states, strict=False)]
    t_params = dict(theirs.named_parameters())
    pairs += [(f"d {name}", p.grad, t_params[name].grad) for name, p in ours.named_parameters()]
    return {name: _scaled_difference(a, b.detach().numpy()) for name, a, b in pairs}


def _scaled_difference(ours: np.ndarray, reference: np.ndarray) -> float:
    assert ours.shape == reference.shape, (ours.shape, reference.shape)
    assert ours.dtype == reference.dtype, (ours.dtype, reference.dtype)
    return float(np.abs(ours - reference).max() / max(1.0, np.abs(reference).max()))
