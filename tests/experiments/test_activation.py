"""The activation experiment: the hand-written sigmoid RNN, the measurement, the verdict and the known result."""

import json

import numpy as np

from rnnlab.cli import main
from rnnlab.diagnostics.gradcheck import numerical_gradient, relative_error
from rnnlab.experiments import run_experiment
from rnnlab.experiments.activation import QUICK, SigmoidRNN, build, verdict
from rnnlab.nn import RNN


def test_the_sigmoid_rnn_computes_its_equation():
    layer = SigmoidRNN(RNN(3, 4, seed=0))
    x = np.random.default_rng(1).standard_normal((5, 2, 3)).astype(np.float32)
    W_ih, W_hh = layer.weight_ih_l0.data, layer.weight_hh_l0.data
    b = layer.bias_ih_l0.data + layer.bias_hh_l0.data
    h = np.zeros((2, 4), np.float32)
    for t in range(5):
        h = 1 / (1 + np.exp(-(x[t] @ W_ih.T + h @ W_hh.T + b)))
    output, h_n = layer.forward(x)
    np.testing.assert_allclose(output[-1], h, rtol=1e-5)
    np.testing.assert_allclose(h_n[0], h, rtol=1e-5)


def test_the_sigmoid_rnns_backward_matches_central_differences_in_float64():
    layer = SigmoidRNN(RNN(3, 4, dtype=np.float64, seed=0))
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 2, 3))
    d_output, d_h_n = rng.standard_normal((6, 2, 4)), rng.standard_normal((1, 2, 4))

    def loss() -> float:  # a random linear function of every output and of h_n
        output, h_n = layer.forward(x)
        return float((output * d_output).sum() + (h_n * d_h_n).sum())

    loss()
    layer.zero_grad()
    d_x = layer.backward(d_output, d_h_n)
    assert relative_error(d_x, numerical_gradient(loss, x)) < 1e-7
    for name, param in layer.named_parameters():
        assert relative_error(param.grad, numerical_gradient(loss, param.data)) < 1e-7, name


def test_every_activation_starts_from_the_same_weights():
    layers = {a: build(a, QUICK, seed=0)[0] for a in ("tanh", "sigmoid", "relu")}
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        first = getattr(layers["tanh"], name).data
        assert all(np.array_equal(getattr(layer, name).data, first) for layer in layers.values())


def test_tanh_keeps_the_most_gradient_and_reaches_the_lowest_loss():
    figures = run_experiment("activation").figures  # the default size, as documented: about 5 s
    relative = figures["relative_grad_norm_at_distance"]
    assert relative["tanh"] > 10 * relative["relu"] > 10 * relative["sigmoid"]
    assert figures["mean_derivative_at_init"]["sigmoid"] <= 0.25
    assert figures["final_loss"]["tanh"] < figures["final_loss"]["relu"] < figures["final_loss"]["sigmoid"]
    assert figures["most_gradient_at_distance"] == figures["lowest_final_loss"] == "tanh"


def test_the_verdict_follows_the_figures_direction():
    figures = {"distance": 20, "setup": {"train_steps": 10}, "chance_loss": 2.08,
               "relative_grad_norm_at_distance": {"tanh": 1e-9, "sigmoid": 1e-3, "relu": 1e-5},
               "final_loss": {"tanh": 1.5, "sigmoid": 2.0, "relu": 0.5}}
    text = verdict(figures)
    assert text.startswith("At initialisation sigmoid keeps the most gradient 20 steps back")
    assert "relu reached the lowest loss" in text


def test_quick_run_through_the_cli_writes_its_plot_and_figures(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["experiment", "activation", "--quick", "--out", str(out), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (out / "gradient_and_loss.png").read_bytes().startswith(b"\x89PNG")
    written = json.loads((out / "figures.json").read_text())
    keys = {"grad_norm_at", "relative_grad_norm_at_distance", "final_loss", "loss", "verdict"}
    assert keys <= written.keys() and keys <= document.keys()
    assert document["plots"] == ["gradient_and_loss.png"] and document["verdict"] == written["verdict"]
