"""Single-step cells (issue 15): RNNCell, LSTMCell, GRUCell against torch.nn's cells and rnnlab's own layers."""

import numpy as np
import pytest

from rnnlab.diagnostics.gradcheck import CellConfig, build_cell, cell_grid, gradcheck
from rnnlab.errors import RnnlabError
from rnnlab.nn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
TORCH_NAMES = {"rnn_tanh": "RNNCell", "rnn_relu": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}


def torch_cell(torch, config: CellConfig, cell):
    kwargs = {"nonlinearity": config.cell[4:]} if config.cell.startswith("rnn_") else {}
    theirs = getattr(torch.nn, TORCH_NAMES[config.cell])(cell.input_size, cell.hidden_size, bias=config.bias,
                                                       dtype=torch.float64, **kwargs)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in cell.state_dict().items()})
    return theirs


def run_loop(cell, xs, state):
    """The learner's loop: one call per step. Returns the outputs h_t and the final state."""
    outputs = []
    for x in xs:
        state = cell(x, state)
        outputs.append(state[0] if isinstance(state, tuple) else state)
    return outputs, state


def backward_loop(cell, d_outputs, d_final):
    """Backward through `run_loop`, latest step first. d_final: d of the final state (a pair for LSTM)."""
    is_lstm = isinstance(cell, LSTMCell)
    d_h, d_c = d_final if is_lstm else (d_final, None)
    d_xs = [None] * len(d_outputs)
    for t in reversed(range(len(d_outputs))):
        if is_lstm:
            d_xs[t], d_h, d_c = cell.backward(d_outputs[t] + d_h, d_c)
        else:
            d_xs[t], d_h = cell.backward(d_outputs[t] + d_h)
    return np.stack(d_xs), ((d_h, d_c) if is_lstm else d_h)


def loop_against_torch(torch, config: CellConfig, steps: int, batch: int = 3, seed: int = 0) -> dict:
    """Max abs difference of every output, state and gradient of a `steps`-long loop, ours vs torch's cell."""
    cell = build_cell(config, 5, 6, seed=seed)
    theirs = torch_cell(torch, config, cell)
    rng = np.random.default_rng(seed)
    is_lstm, lead = config.cell == "lstm", (() if config.unbatched else (batch,))
    xs = rng.normal(size=(steps, *lead, 5))
    state0 = tuple(rng.normal(size=(*lead, 6)) for _ in range(1 + is_lstm))
    outputs, final = run_loop(cell, xs, state0 if is_lstm else state0[0])
    t_xs = torch.tensor(xs, requires_grad=True)
    t_state0 = [torch.tensor(s, requires_grad=True) for s in state0]
    t_outputs, t_final = run_loop(theirs, t_xs, tuple(t_state0) if is_lstm else t_state0[0])
    finals, t_finals = (final, t_final) if is_lstm else ((final,), (t_final,))
    R = rng.normal(size=(steps, *lead, 6))
    R_final = tuple(rng.normal(size=f.shape) for f in finals)
    assert cell.pending == steps
    d_xs, d_state0 = backward_loop(cell, R, R_final if is_lstm else R_final[0])
    assert cell.pending == 0
    loss = sum((o * torch.from_numpy(r)).sum() for o, r in zip(t_outputs, R, strict=True))
    (loss + sum((f * torch.from_numpy(r)).sum() for f, r in zip(t_finals, R_final, strict=True))).backward()
    pairs = [(f"output {t}", o, t_o) for t, (o, t_o) in enumerate(zip(outputs, t_outputs, strict=True))]
    pairs += [("final state", a, b) for a, b in zip(finals, t_finals, strict=True)]
    pairs += [("d input", d_xs, t_xs.grad)]
    pairs += [("d initial state", a, b.grad) for a, b in zip(d_state0 if is_lstm else (d_state0,), t_state0,
                                                            strict=True)]
    t_params = dict(theirs.named_parameters())
    pairs += [(f"d {name}", p.grad, t_params[name].grad) for name, p in cell.named_parameters()]
    differences = {}
    for name, a, b in pairs:
        b = b.detach().numpy()
        assert a.shape == b.shape, (name, a.shape, b.shape)
        differences[name] = float(np.abs(a - b).max())
    return differences


@pytest.mark.parametrize("config", [CellConfig(c, bias, unbatched) for c in CELLS for bias in (True, False)
                                    for unbatched in (False, True)], ids=CellConfig.label)
def test_one_step_and_a_loop_equal_torch_cells(config):
    torch = pytest.importorskip("torch")
    for steps in (1, 3):
        differences = loop_against_torch(torch, config, steps)
        assert max(differences.values()) < 1e-12, differences


def test_five_step_lstm_cell_loop_equals_the_lstm_layer_and_torch_lstm_cell():
    torch = pytest.importorskip("torch")
    # torch.nn.LSTMCell, step by step: outputs, states and every gradient including d_x and d (h0, c0)
    differences = loop_against_torch(torch, CellConfig("lstm"), steps=5)
    assert max(differences.values()) < 1e-12, differences
    # rnnlab.nn.LSTM with one layer, loaded with the cell's weights: the same numbers
    T, B, I, H = 5, 3, 4, 6
    cell = LSTMCell(I, H, dtype=np.float64, seed=3)
    layer = LSTM(I, H, dtype=np.float64, seed=4)
    layer.load_state_dict({f"{name}_l0": value for name, value in cell.state_dict().items()})
    rng = np.random.default_rng(1)
    x, h0, c0 = rng.normal(size=(T, B, I)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    outputs, (h, c) = run_loop(cell, x, (h0, c0))
    output, (h_n, c_n) = layer(x, (h0[None], c0[None]))
    np.testing.assert_allclose(np.stack(outputs), output, rtol=0, atol=1e-14)
    np.testing.assert_allclose(h, h_n[0], rtol=0, atol=1e-14)
    np.testing.assert_allclose(c, c_n[0], rtol=0, atol=1e-14)
    R, R_h, R_c = rng.normal(size=output.shape), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    d_x, (d_h0, d_c0) = backward_loop(cell, R, (R_h, R_c))
    layer_d_x, (layer_d_h0, layer_d_c0) = layer.backward(R, R_h[None], R_c[None])
    for ours, theirs in ((d_x, layer_d_x), (d_h0, layer_d_h0[0]), (d_c0, layer_d_c0[0])):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-13)
    layer_grads = dict(layer.named_parameters())
    for name, p in cell.named_parameters():
        np.testing.assert_allclose(p.grad, layer_grads[f"{name}_l0"].grad, rtol=0, atol=1e-13, err_msg=name)


@pytest.mark.parametrize(("cell_class", "layer_class", "kwargs"), [
    (RNNCell, RNN, {"nonlinearity": "relu"}), (GRUCell, GRU, {}), (LSTMCell, LSTM, {"bias": False})])
def test_float32_loop_matches_the_float32_layer(cell_class, layer_class, kwargs):
    # float32 runs the compiled steps (functional.fused) in both, so the loop and the layer agree closely
    cell = cell_class(3, 5, seed=0, **kwargs)
    layer = layer_class(3, 5, seed=1, **kwargs)
    layer.load_state_dict({f"{name}_l0": value for name, value in cell.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(4, 2, 3)).astype(np.float32)
    outputs, _ = run_loop(cell, x, None)
    assert outputs[0].dtype == np.float32
    np.testing.assert_allclose(np.stack(outputs), layer(x)[0], rtol=0, atol=1e-6)
    d_x, _ = backward_loop(cell, np.ones((4, 2, 5), np.float32), (np.zeros((2, 5), np.float32),) * 2
                           if cell_class is LSTMCell else np.zeros((2, 5), np.float32))
    np.testing.assert_allclose(d_x, layer.backward(np.ones((4, 2, 5), np.float32)), rtol=0, atol=1e-5)


@pytest.mark.parametrize("config", list(cell_grid()), ids=CellConfig.label)
def test_cell_gradients_match_central_differences(config):
    errors = gradcheck(config)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
def test_torch_cell_state_dict_loads_unchanged_and_init_is_pytorchs(cell):
    torch = pytest.importorskip("torch")
    ours = build_cell(CellConfig(cell), 3, 16, seed=1)
    theirs = getattr(torch.nn, TORCH_NAMES[cell])(3, 16, dtype=torch.float64)
    state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    assert list(state) == list(ours.state_dict()) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert all(state[k].shape == v.shape for k, v in ours.state_dict().items())
    for value in ours.state_dict().values():  # U(-1/sqrt(H), 1/sqrt(H)), as PyTorch's reset_parameters
        assert np.abs(value).max() <= 0.25 and np.abs(value).max() > 0.2
    ours.load_state_dict(state)
    for name, value in ours.state_dict().items():
        np.testing.assert_array_equal(value, state[name])


def test_defaults_shapes_and_bookkeeping():
    cell = LSTMCell(3, 4, bias=False, seed=0)
    assert [name for name, _ in cell.named_parameters()] == ["weight_ih", "weight_hh"]
    assert repr(cell) == "LSTMCell(3, 4, bias=False, dtype=float32)"
    assert repr(RNNCell(3, 4, nonlinearity="relu")).endswith("nonlinearity='relu')")
    h, c = cell(np.ones(3))  # unbatched, hx zeros
    assert h.shape == c.shape == (4,) and h.dtype == np.float32
    np.testing.assert_array_equal(LSTMCell(3, 4, seed=5).weight_ih.data, LSTMCell(3, 4, seed=5).weight_ih.data)
    empty = GRUCell(3, 4)(np.zeros((0, 3)))  # an empty batch, as PyTorch allows
    assert empty.shape == (0, 4)
    cell.clear()
    cell.eval()
    cell(np.ones((2, 3)))
    assert cell.pending == 0  # eval mode keeps nothing ...
    with pytest.raises(RnnlabError, match=r"backward\(\) called more times than forward\(\)"):
        cell.backward(np.ones((2, 4)))  # ... so there is nothing to backpropagate
    cell.train()
    cell(np.ones((2, 3)))
    with pytest.raises(RnnlabError, match=r"gradient must have shape \(2, 4\), got \(4,\)"):
        cell.backward(np.ones(4))
    cell(np.ones(3))
    d_x, d_h, d_c = cell.backward(np.ones(4))  # unbatched step: unbatched gradients, d_c None means zero
    assert d_x.shape == (3,) and d_h.shape == d_c.shape == (4,)


@pytest.mark.parametrize("cls", [RNNCell, LSTMCell, GRUCell])
def test_a_step_keeps_its_own_copies_and_leaves_the_callers_arrays_alone(cls):
    rng = np.random.default_rng(0)
    x, h, d = rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    grads = []
    for mutate in (False, True):
        cell = cls(3, 4, dtype=np.float64, seed=0)
        xb, hb, db = x.copy(), h.copy(), d.copy()
        out = cell(xb, (hb, hb.copy()) if cls is LSTMCell else hb)
        if mutate:  # reuse the input buffers and scribble on the output before backward
            xb += 1
            hb += 1
            (out[0] if cls is LSTMCell else out)[:] = 7
        result = cell.backward(db, db) if cls is LSTMCell else cell.backward(db)
        np.testing.assert_array_equal(db, d)  # the gradient given is not written to
        grads.append([*result, *(p.grad for p in cell.parameters())])
    for a, b in zip(*grads, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: LSTMCell(3, 4, bias=0), TypeError, "bias should be of type bool, got: int"),
    (lambda: GRUCell(3, 4, bias="True"), TypeError, "bias should be of type bool, got: str"),
    (lambda: RNNCell(3, 4, nonlinearity="sigmoid"), RnnlabError, "nonlinearity"),
    (lambda: RNNCell(0, 4), RnnlabError, "input_size"),
    (lambda: GRUCell(3, 2.0), RnnlabError, "hidden_size"),
    (lambda: LSTMCell(3, 4, dtype=np.int32), RnnlabError, "dtype"),
])
def test_constructor_checks(make, error, message):
    with pytest.raises(error, match=message):
        make()


B2, H4 = np.zeros((2, 4)), np.zeros(4)


@pytest.mark.parametrize(("cell", "x", "hx", "message"), [
    (RNNCell(3, 4), np.zeros((2, 2, 3)), None, "RNNCell: Expected input to be 1D or 2D, got 3D instead"),
    (GRUCell(3, 4), np.zeros((2, 5)), None, "input has inconsistent input_size: got 5 expected 3"),
    (RNNCell(3, 4), np.zeros((2, 3)), np.zeros((1, 2, 4)), "RNNCell: Expected hidden to be 1D or 2D, got 3D"),
    (GRUCell(3, 4), np.zeros((2, 3)), np.zeros((3, 4)), "Input batch size 2 doesn't match hidden0 batch size 3"),
    (GRUCell(3, 4), np.zeros((2, 3)), np.zeros((2, 5)), "hidden0 has inconsistent hidden_size: got 5, expected 4"),
    (LSTMCell(3, 4), np.zeros((2, 3)), (B2, np.zeros((2, 5))), "hidden1 has inconsistent hidden_size: got 5"),
    (LSTMCell(3, 4), np.zeros((2, 3)), B2, r"LSTMCell: hx must be a pair \(h_0, c_0\)"),
    (LSTMCell(3, 4), np.zeros(3), (B2, B2), r"LSTMCell: hx\[0\] must have shape \(4,\) for input of 1D"),
    (RNNCell(3, 4), np.zeros((2, 3)), H4, r"RNNCell: hidden must have shape \(B, 4\) for input of 2D"),
    (RNNCell(3, 4), np.array(["a", "b", "c"]), None, r"RNNCell input dtype \(<U1\) is not a real number type"),
    (LSTMCell(3, 4), np.zeros(3), (H4, H4 * 1j), r"LSTMCell hx\[1\] dtype \(complex128\) is not a real number"),
])
def test_forward_checks_name_the_problem_as_pytorch_does(cell, x, hx, message):
    with pytest.raises(RnnlabError, match=message):
        cell(x, hx)
    assert cell.pending == 0  # a refused step keeps nothing


def test_the_loop_in_docs_engine_md_runs_as_written():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "engine.md").read_text(encoding="utf-8")
    section = text.split("## Cells: one step at a time", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(compile(code, "docs/engine.md", "exec"), scope)  # noqa: S102 - our own documentation's example
    cell, x = scope["cell"], scope["x"]
    assert cell.pending == 0 and scope["d_h"].shape == (3, 20)
    layer = LSTM(10, 20, seed=1)
    layer.load_state_dict({f"{name}_l0": value for name, value in cell.state_dict().items()})
    layer(x)
    layer.backward(np.ones((6, 3, 20), np.float32))
    np.testing.assert_allclose(cell.weight_ih.grad, layer.weight_ih_l0.grad, rtol=1e-4, atol=1e-5)
