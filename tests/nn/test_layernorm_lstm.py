"""The layer-normalised LSTM: its hand-written backward against central differences and against PyTorch autograd."""

import numpy as np
import pytest

from rnnlab.diagnostics.gradcheck import numerical_gradient, relative_error
from rnnlab.errors import RnnlabError
from rnnlab.nn import LayerNormLSTM

T, B, I, H = 5, 3, 4, 6
PARAMETERS = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "ln_ih_weight", "ln_ih_bias",
              "ln_hh_weight", "ln_hh_bias", "ln_c_weight", "ln_c_bias"]


def perturbed_layer(seed=0, batch_first=False):
    """A float64 layer whose LN gains and biases are moved off 1 and 0, so every term of the backward is exercised."""
    layer = LayerNormLSTM(I, H, batch_first=batch_first, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 10)
    for name in PARAMETERS[4:]:
        getattr(layer, name).data += rng.normal(scale=0.3, size=getattr(layer, name).shape)
    return layer


def problem(seed=0, batch_first=False):
    """Input, initial states and the weights R of the scalar loss sum(output R) + sum(h_n R_h) + sum(c_n R_c)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, I) if batch_first else (T, B, I))
    hx = tuple(rng.normal(size=(1, B, H)) for _ in range(2))
    R = rng.normal(size=(B, T, H) if batch_first else (T, B, H))
    R_h, R_c = rng.normal(size=(1, B, H)), rng.normal(size=(1, B, H))
    return x, hx, R, R_h, R_c


def test_parameters_are_named_as_pytorchs_lstm_plus_the_layer_norm_gains_and_biases():
    layer = LayerNormLSTM(I, H, seed=0)
    assert [name for name, _ in layer.named_parameters()] == PARAMETERS
    assert layer.weight_ih_l0.shape == (4 * H, I) and layer.ln_c_weight.shape == (H,)
    assert np.all(layer.ln_hh_weight.data == 1) and np.all(layer.ln_hh_bias.data == 0)


@pytest.mark.parametrize("batch_first", [False, True])
def test_every_gradient_matches_central_differences(batch_first):
    layer = perturbed_layer(batch_first=batch_first)
    x, hx, R, R_h, R_c = problem(batch_first=batch_first)

    def loss():
        output, (h_n, c_n) = layer.forward(x, hx)
        return float((output * R).sum() + (h_n * R_h).sum() + (c_n * R_c).sum())

    layer.zero_grad()
    layer.forward(x, hx)
    d_x, (d_h0, d_c0) = layer.backward(R, R_h, R_c)
    errors = {name: relative_error(getattr(layer, name).grad, numerical_gradient(loss, getattr(layer, name).data))
              for name in PARAMETERS}
    errors |= {"x": relative_error(d_x, numerical_gradient(loss, x)),
               "h_0": relative_error(d_h0, numerical_gradient(loss, hx[0])),
               "c_0": relative_error(d_c0, numerical_gradient(loss, hx[1]))}
    assert max(errors.values()) < 1e-6, errors


def test_gradients_from_zero_initial_states_match_central_differences():
    layer = perturbed_layer(seed=1)
    x, _, R, _, _ = problem(seed=1)

    def loss():
        return float((layer.forward(x)[0] * R).sum())

    layer.zero_grad()
    layer.forward(x)
    d_x = layer.backward(R)
    assert relative_error(d_x, numerical_gradient(loss, x)) < 1e-6
    for name in PARAMETERS:
        assert relative_error(getattr(layer, name).grad, numerical_gradient(loss, getattr(layer, name).data)) < 1e-6


def torch_ln_lstm(torch, params, x, h, c):
    """The same equations in plain PyTorch autograd: gates (i, f, g, o), one LN over 4H per half, one over H for c."""
    F = torch.nn.functional
    G = params["weight_ih_l0"].shape[0]
    hidden = G // 4
    z_x = F.layer_norm(x @ params["weight_ih_l0"].T, (G,), params["ln_ih_weight"], params["ln_ih_bias"], eps=1e-5)
    outputs = []
    for t in range(x.shape[0]):
        z_h = F.layer_norm(h @ params["weight_hh_l0"].T, (G,), params["ln_hh_weight"], params["ln_hh_bias"], eps=1e-5)
        pre = z_x[t] + z_h + params["bias_ih_l0"] + params["bias_hh_l0"]
        i, f, g, o = pre.split(hidden, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        n = F.layer_norm(c, (hidden,), params["ln_c_weight"], params["ln_c_bias"], eps=1e-5)
        h = torch.sigmoid(o) * torch.tanh(n)
        outputs.append(h)
    return torch.stack(outputs), h, c


def test_outputs_states_and_gradients_match_pytorch_autograd_to_1e_10():
    torch = pytest.importorskip("torch")
    layer = perturbed_layer(seed=2)
    x, hx, R, R_h, R_c = problem(seed=2)
    params = {name: torch.tensor(getattr(layer, name).data, requires_grad=True) for name in PARAMETERS}
    t_x, t_h0, t_c0 = (torch.tensor(a, requires_grad=True) for a in (x, *hx))
    t_out, t_h, t_c = torch_ln_lstm(torch, params, t_x, t_h0[0], t_c0[0])
    loss = (t_out * torch.from_numpy(R)).sum() + (t_h * torch.from_numpy(R_h[0])).sum()
    (loss + (t_c * torch.from_numpy(R_c[0])).sum()).backward()

    layer.zero_grad()
    output, (h_n, c_n) = layer.forward(x, hx)
    d_x, (d_h0, d_c0) = layer.backward(R, R_h, R_c)
    pairs = [(output, t_out), (h_n[0], t_h), (c_n[0], t_c), (d_x, t_x.grad), (d_h0, t_h0.grad), (d_c0, t_c0.grad)]
    pairs += [(getattr(layer, name).grad, params[name].grad) for name in PARAMETERS]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-10)


def test_a_sequence_gives_the_same_output_alone_as_in_a_batch():
    layer = LayerNormLSTM(I, H, seed=0, dtype=np.float64)
    x = np.random.default_rng(0).normal(size=(T, B, I))
    batched, _ = layer.forward(x)
    alone, _ = layer.forward(x[:, 1:2])
    np.testing.assert_allclose(alone[:, 0], batched[:, 1], rtol=0, atol=1e-14)


def test_bad_arguments_are_refused_where_they_enter():
    with pytest.raises(RnnlabError, match="hidden_size"):
        LayerNormLSTM(3, 0)
    with pytest.raises(RnnlabError, match="dtype"):
        LayerNormLSTM(3, 4, dtype=np.int32)
    with pytest.raises(RnnlabError, match="expects input of shape"):
        LayerNormLSTM(3, 4).forward(np.zeros((5, 3)))
    with pytest.raises(RnnlabError, match="before forward"):
        LayerNormLSTM(3, 4).backward(np.zeros((5, 2, 4)))
