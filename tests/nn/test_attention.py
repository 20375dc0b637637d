"""Attention over a masked memory (issue 16): gradcheck, torch parity, a decoder-style loop, padding invariance."""

import numpy as np
import pytest

from rnnlab.diagnostics.gradcheck import AttentionConfig, attention_grid, build_attention, gradcheck
from rnnlab.errors import RnnlabError
from rnnlab.nn import AdditiveAttention, LuongAttention

SCORES = ["additive", "general", "dot"]
Q, K, S, B = 3, 4, 5, 3


def torch_attention(torch, attention, params, query, memory, mask):
    """The same formulas in torch (autograd does the backward): returns (context (B, K), weights (B, S))."""
    if getattr(attention, "score", "additive") == "additive":
        pre = memory @ params["key_proj.weight"].T + params["key_proj.bias"] + query @ params["query_proj.weight"].T
        scores = (torch.tanh(pre) @ params["v.weight"][0]).T  # (B, S)
    else:
        projected = query @ params["key_proj.weight"] if attention.score == "general" else query  # (B, K)
        scores = torch.einsum("sbk,bk->bs", memory, projected)
    weights = torch.softmax(scores.masked_fill(~torch.from_numpy(mask).T, -torch.inf), dim=1)
    return torch.einsum("bs,sbk->bk", weights, memory), weights


def inputs(score, steps, seed=0):
    rng = np.random.default_rng(seed)
    attention = build_attention(AttentionConfig(score), Q, K, seed=seed)
    k = attention.key_size
    mask = np.ones((S, B), bool)
    mask[3:, 1] = mask[1:, 2] = False  # lengths 5, 3, 1
    return attention, rng, rng.normal(size=(steps, B, Q)), rng.normal(size=(S, B, k)), mask


def compare(torch, ours: dict, theirs: dict) -> float:
    worst = 0.0
    for name, value in ours.items():
        other = theirs[name].detach().numpy()
        assert value.shape == other.shape, name
        worst = max(worst, float(np.abs(value - other).max()))
    return worst


@pytest.mark.parametrize("config", [*attention_grid(), AttentionConfig("additive", masked=False)],
                         ids=AttentionConfig.label)
def test_gradcheck(config):
    errors = gradcheck(config)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("score", SCORES)
def test_one_step_equals_torch(score):
    torch = pytest.importorskip("torch")
    attention, rng, queries, memory, mask = inputs(score, 1)
    context, weights = attention(queries[0], memory, mask)
    assert (weights[~mask.T] == 0).all() and np.allclose(weights.sum(axis=1), 1)
    R, R_weights = rng.normal(size=context.shape), rng.normal(size=weights.shape)
    d_query, d_memory = attention.backward(R, R_weights)
    params = {name: torch.tensor(p.data, requires_grad=True) for name, p in attention.named_parameters()}
    t_query, t_memory = torch.tensor(queries[0], requires_grad=True), torch.tensor(memory, requires_grad=True)
    t_context, t_weights = torch_attention(torch, attention, params, t_query, t_memory, mask)
    ((t_context * torch.from_numpy(R)).sum() + (t_weights * torch.from_numpy(R_weights)).sum()).backward()
    ours = {"context": context, "weights": weights, "d_query": d_query, "d_memory": d_memory}
    ours |= {name: p.grad for name, p in attention.named_parameters()}
    theirs = {"context": t_context, "weights": t_weights, "d_query": t_query.grad, "d_memory": t_memory.grad}
    theirs |= {name: p.grad for name, p in params.items()}
    assert compare(torch, ours, theirs) < 1e-10


@pytest.mark.parametrize("score", SCORES)
def test_decoder_loop_equals_torch_autograd_of_the_unrolled_loop(score):
    # q_{t+1} = tanh(q_t + context_t P): each step's query depends on the context before, as in a decoder
    torch = pytest.importorskip("torch")
    steps = 4
    attention, rng, queries, memory, mask = inputs(score, 1, seed=1)
    P, R = rng.normal(size=(memory.shape[2], Q)), rng.normal(size=(steps, B, memory.shape[2]))
    q, states = queries[0], [queries[0]]
    for _ in range(steps):
        context, _ = attention(q, memory, mask)
        q = np.tanh(q + context @ P)
        states.append(q)
    d_q, d_memory = np.zeros_like(q), np.zeros_like(memory)  # L = sum_t sum(context_t * R_t)
    for t in reversed(range(steps)):
        d_pre = d_q * (1 - states[t + 1] ** 2)  # through q_{t+1} = tanh(q_t + context_t P)
        d_q_t, d_memory_t = attention.backward(R[t] + d_pre @ P.T)
        d_q, d_memory = d_pre + d_q_t, d_memory + d_memory_t
    assert attention.pending == 0
    params = {name: torch.tensor(p.data, requires_grad=True) for name, p in attention.named_parameters()}
    t_q0, t_memory = torch.tensor(queries[0], requires_grad=True), torch.tensor(memory, requires_grad=True)
    t_q, loss = t_q0, 0
    for t in range(steps):
        t_context, _ = torch_attention(torch, attention, params, t_q, t_memory, mask)
        t_q = torch.tanh(t_q + t_context @ torch.from_numpy(P))
        loss = loss + (t_context * torch.from_numpy(R[t])).sum()
    loss.backward()
    ours = {"final query": q, "d_query0": d_q, "d_memory": d_memory}
    ours |= {name: p.grad for name, p in attention.named_parameters()}
    theirs = {"final query": t_q, "d_query0": t_q0.grad, "d_memory": t_memory.grad}
    theirs |= {name: p.grad for name, p in params.items()}
    assert compare(torch, ours, theirs) < 1e-10


def run(attention, query, memory, mask, R, R_weights):
    attention.zero_grad()
    context, weights = attention(query, memory, mask)
    d_query, d_memory = attention.backward(R, R_weights)
    return context, weights, d_query, d_memory, {n: p.grad.copy() for n, p in attention.named_parameters()}


@pytest.mark.parametrize("score", SCORES)
def test_padding_changes_nothing(score):
    attention, rng, queries, memory, mask = inputs(score, 1)
    R, R_weights = rng.normal(size=(B, memory.shape[2])), rng.normal(size=(B, S))
    context, weights, d_query, d_memory, grads = run(attention, queries[0], memory, mask, R, R_weights)
    # three more padded steps, full of large numbers, with any gradient for their weights
    extra = 3
    padded = np.concatenate([memory, 50 * rng.normal(size=(extra, B, memory.shape[2]))])
    padded_mask = np.concatenate([mask, np.zeros((extra, B), bool)])
    padded_R_weights = np.concatenate([R_weights, rng.normal(size=(B, extra))], axis=1)
    p_context, p_weights, p_d_query, p_d_memory, p_grads = run(attention, queries[0], padded, padded_mask, R,
                                                               padded_R_weights)
    np.testing.assert_allclose(p_context, context, rtol=0, atol=1e-14)
    np.testing.assert_allclose(p_weights[:, :S], weights, rtol=0, atol=1e-15)
    assert (p_weights[:, S:] == 0).all() and (p_d_memory[S:] == 0).all() and (p_d_memory[~padded_mask] == 0).all()
    np.testing.assert_allclose(p_d_query, d_query, rtol=0, atol=1e-14)
    np.testing.assert_allclose(p_d_memory[:S], d_memory, rtol=0, atol=1e-14)
    for name, grad in grads.items():
        np.testing.assert_allclose(p_grads[name], grad, rtol=0, atol=1e-13, err_msg=name)
    # a padded row of the batch equals the same source alone, unpadded
    row, length = 1, mask[:, 1].sum()
    alone = run(attention, queries[0][row:row + 1], memory[:length, row:row + 1], None, R[row:row + 1],
                R_weights[row:row + 1, :length])
    np.testing.assert_allclose(alone[0][0], context[row], rtol=0, atol=1e-14)
    np.testing.assert_allclose(alone[1][0], weights[row, :length], rtol=0, atol=1e-15)
    np.testing.assert_allclose(alone[2][0], d_query[row], rtol=0, atol=1e-14)
    np.testing.assert_allclose(alone[3][:, 0], d_memory[:length, row], rtol=0, atol=1e-14)


def test_names_shapes_and_init():
    additive = AdditiveAttention(3, 4, 6, seed=0)
    assert {n: p.shape for n, p in additive.named_parameters()} == {
        "query_proj.weight": (6, 3), "key_proj.weight": (6, 4), "key_proj.bias": (6,), "v.weight": (1, 6)}
    assert np.abs(additive.key_proj.weight.data).max() <= 1 / np.sqrt(4)
    general = LuongAttention(3, 4)
    assert [(n, p.shape) for n, p in general.named_parameters()] == [("key_proj.weight", (3, 4))]
    assert general.key_proj.weight.data.dtype == np.float32
    assert LuongAttention(4, 4, "dot").parameters() == []
    assert repr(LuongAttention(4, 4, "dot")) == "LuongAttention(4, 4, score='dot', dtype=float32)"


def test_bad_arguments_and_inputs_are_refused():
    attention = LuongAttention(2, 2, "dot", dtype=np.float64)
    query, memory = np.ones((2, 2)), np.ones((3, 2, 2))
    mask = np.ones((3, 2), bool)
    mask[:, 1] = False
    with pytest.raises(RnnlabError, match="batch row 1 has no real source step"):
        attention(query, memory, mask)
    with pytest.raises(RnnlabError, match="mask must be a bool array of shape"):
        attention(query, memory, np.ones((3, 2)))
    with pytest.raises(RnnlabError, match=r"memory must have shape \(S, 2, 2\)"):
        attention(query, np.ones((2, 3, 2)))
    with pytest.raises(RnnlabError, match="query must have shape"):
        attention(np.ones(2), memory)
    with pytest.raises(RnnlabError, match="needs query_size == key_size"):
        LuongAttention(2, 3, "dot")
    with pytest.raises(RnnlabError, match="`score`"):
        LuongAttention(2, 2, "concat")
    with pytest.raises(RnnlabError, match="`attention_size`"):
        AdditiveAttention(2, 2, 0)
    with pytest.raises(RnnlabError, match="called more times than forward"):
        attention.backward(np.ones((2, 2)))
    attention(query, memory)
    with pytest.raises(RnnlabError, match="gradients must have shapes"):
        attention.backward(np.ones((2, 3)))
    assert attention.pending == 1  # a refused backward leaves the step for a correct one
    attention.backward(np.ones((2, 2)))
    attention.eval()(query, memory)
    assert attention.pending == 0
