"""The attention decoder step (issue 16): a teacher-forced loop against torch autograd, gradcheck, padding, checks."""

import numpy as np
import pytest

from rnnlab.diagnostics.gradcheck import DecoderConfig, decoder_grid, gradcheck
from rnnlab.errors import RnnlabError
from rnnlab.nn import AttentionDecoderStep

from .test_attention import torch_attention

V, E, H, K, A, S, B, T = 7, 3, 4, 4, 5, 6, 3, 4


def make(cell, score, feeding, seed=0):
    step = AttentionDecoderStep(V, E, H, K, cell, score, feeding, attentional_size=A, dtype=np.float64, seed=seed)
    rng = np.random.default_rng(seed + 1)
    mask = np.ones((S, B), bool)
    mask[4:, 1] = mask[2:, 2] = False  # source lengths 6, 4, 2
    states = [rng.normal(size=(B, H)) for _ in range(1 + (cell == "lstm"))]
    return step, rng, rng.integers(0, V, size=(T, B)), rng.normal(size=(S, B, K)), mask, states


def torch_cell(torch, p, cell, x, state):
    """The cell's formulas written out in torch (gates as torch.nn's cells order them)."""
    h = state[0] if cell == "lstm" else state
    ih, hh = x @ p["cell.weight_ih"].T + p["cell.bias_ih"], h @ p["cell.weight_hh"].T + p["cell.bias_hh"]
    if cell == "lstm":
        i, f, g, o = (ih + hh).chunk(4, dim=1)
        c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    r, z = torch.sigmoid(ih[:, : 2 * H] + hh[:, : 2 * H]).chunk(2, dim=1)
    n = torch.tanh(ih[:, 2 * H :] + r * hh[:, 2 * H :])
    return (1 - z) * n + z * h


def torch_step(torch, step, p, cell, token, state, memory, mask, a_prev):
    """One decoder step in torch: embedding, input feeding, cell, attention, tanh(W_c [ctx; h]), logits."""
    x = p["embedding.weight"][torch.from_numpy(token)]
    if step.input_feeding:
        x = torch.cat([x, torch.zeros(B, A, dtype=torch.float64) if a_prev is None else a_prev], dim=1)
    state = torch_cell(torch, p, cell, x, state)
    h = state[0] if cell == "lstm" else state
    attention_params = {name[len("attention."):]: v for name, v in p.items() if name.startswith("attention.")}
    context, weights = torch_attention(torch, step.attention, attention_params, h, memory, mask)
    attentional = torch.tanh(torch.cat([context, h], dim=1) @ p["combine.weight"].T)
    return attentional @ p["out.weight"].T + p["out.bias"], state, attentional, weights


@pytest.mark.parametrize("score", ["general", "additive", "dot"])
@pytest.mark.parametrize("feeding", [True, False], ids=["input feeding", "no feeding"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_teacher_forced_loop_equals_torch_autograd(cell, feeding, score):
    torch = pytest.importorskip("torch")
    step, rng, tokens, memory, mask, states = make(cell, score, feeding)
    R, R_h, R_a = rng.normal(size=(T, B, V)), rng.normal(size=(B, H)), rng.normal(size=(B, A))
    # ours: L = sum_t sum(logits_t * R_t) + sum(h_T * R_h) + sum(a_T * R_a)
    state, a, logits, weights = (tuple(states) if cell == "lstm" else states[0]), None, [], []
    for t in range(T):
        out, state, a, w = step(tokens[t], state, memory, mask, a)
        logits.append(out)
        weights.append(w)
    assert step.pending == step.cell.pending == step.attention.pending == T
    d_state, d_a, d_memory = ((R_h, None) if cell == "lstm" else R_h), R_a, np.zeros_like(memory)
    for t in reversed(range(T)):
        d_state, d_memory_t, d_a = step.backward(R[t], d_state, d_a)
        d_memory += d_memory_t
    assert step.pending == step.cell.pending == step.attention.pending == 0
    assert (d_a is None) == (not feeding)
    # theirs: the same loop in torch, autograd for the backward
    p = {name: torch.tensor(v.data, requires_grad=True) for name, v in step.named_parameters()}
    t_states = [torch.tensor(s, requires_grad=True) for s in states]
    t_memory = torch.tensor(memory, requires_grad=True)
    t_state, t_a, loss = (tuple(t_states) if cell == "lstm" else t_states[0]), None, 0
    t_logits, t_weights = [], []
    for t in range(T):
        out, t_state, t_a, w = torch_step(torch, step, p, cell, tokens[t], t_state, t_memory, mask, t_a)
        t_logits.append(out)
        t_weights.append(w)
        loss = loss + (out * torch.from_numpy(R[t])).sum()
    h_T = t_state[0] if cell == "lstm" else t_state
    (loss + (h_T * torch.from_numpy(R_h)).sum() + (t_a * torch.from_numpy(R_a)).sum()).backward()
    pairs = [(np.stack(logits), torch.stack(t_logits)), (np.stack(weights), torch.stack(t_weights)), (a, t_a),
             (d_memory, t_memory.grad)]
    pairs += list(zip(d_state if cell == "lstm" else (d_state,), (s.grad for s in t_states), strict=True))
    pairs += [(v.grad, p[name].grad) for name, v in step.named_parameters()]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-10)
    assert (np.stack(weights)[:, ~mask.T] == 0).all() and (d_memory[~mask] == 0).all()


@pytest.mark.parametrize("config", [*decoder_grid(), DecoderConfig("rnn", "dot", True)], ids=DecoderConfig.label)
def test_gradcheck(config):
    errors = gradcheck(config)
    assert max(errors.values()) < 1e-6, errors


def test_padding_the_memory_changes_nothing():
    step, rng, tokens, memory, mask, states = make("lstm", "additive", True)
    padded = np.concatenate([memory, 50 * rng.normal(size=(3, B, K))])
    padded_mask = np.concatenate([mask, np.zeros((3, B), bool)])
    R = rng.normal(size=(T, B, V))
    results = []
    for mem, m in ((memory, mask), (padded, padded_mask)):
        step.zero_grad()
        state, a, logits = tuple(states), None, []
        for t in range(T):
            out, state, a, _ = step(tokens[t], state, mem, m, a)
            logits.append(out)
        d_state, d_a, d_memory = None, None, 0
        for t in reversed(range(T)):
            d_state, d_memory_t, d_a = step.backward(R[t], d_state, d_a)
            d_memory = d_memory + d_memory_t
        results.append((np.stack(logits), d_memory[:S], *d_state, *(p.grad.copy() for p in step.parameters())))
    for ours, padded_result in zip(*results, strict=True):
        np.testing.assert_allclose(padded_result, ours, rtol=0, atol=1e-12)


def test_names_shapes_eval_and_bad_inputs():
    step = AttentionDecoderStep(V, E, H, K, "gru", "general", True, attentional_size=A, padding_idx=0, seed=0)
    assert {n: p.shape for n, p in step.named_parameters()} == {
        "embedding.weight": (V, E), "cell.weight_ih": (3 * H, E + A), "cell.weight_hh": (3 * H, H),
        "cell.bias_ih": (3 * H,), "cell.bias_hh": (3 * H,), "attention.key_proj.weight": (H, K),
        "combine.weight": (A, K + H), "out.weight": (V, A), "out.bias": (V,)}
    assert step.out.weight.data.dtype == np.float32
    memory, tokens = np.ones((S, B, K)), np.array([0, 1, 2])
    with pytest.raises(RnnlabError, match="prev_tokens must be a 1-D integer array"):
        step(np.ones(B), None, memory)
    with pytest.raises(RnnlabError, match=r"prev_attentional must have shape \(3, 5\)"):
        step(tokens, None, memory, None, np.ones((B, H)))
    with pytest.raises(RnnlabError, match="memory must have shape"):
        step(tokens, None, np.ones((S, B, K + 1)))
    assert step.pending == step.cell.pending == step.attention.pending == 0  # no half step left behind
    with pytest.raises(RnnlabError, match="called more times than forward"):
        step.backward(np.ones((B, V)))
    step(tokens, None, memory)
    with pytest.raises(RnnlabError, match=r"d_logits must have shape \(3, 7\)"):
        step.backward(np.ones((B, V + 1)))
    d_state, d_memory, d_a = step.backward(np.ones((B, V)))
    assert d_state.shape == (B, H) and d_memory.shape == (S, B, K) and d_a.shape == (B, A)
    assert (step.embedding.weight.grad[0] == 0).all()  # padding_idx: no gradient
    step.eval()(tokens, None, memory)
    assert step.pending == step.cell.pending == step.attention.pending == 0
    with pytest.raises(RnnlabError, match="`cell`"):
        AttentionDecoderStep(V, E, H, K, cell="transformer")
    with pytest.raises(RnnlabError, match="`score`"):
        AttentionDecoderStep(V, E, H, K, score="concat")
    with pytest.raises(RnnlabError, match="needs query_size == key_size"):
        AttentionDecoderStep(V, E, H, K + 1, score="dot")

