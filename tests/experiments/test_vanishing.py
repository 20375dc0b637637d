"""The vanishing-gradient experiment: its measurement, its verdict and the known result."""

import numpy as np

from rnnlab.experiments import run_experiment
from rnnlab.experiments.vanishing import QUICK, build, measure, memory_batch, unrolled_tanh, verdict


def test_the_jacobian_product_by_hand_matches_the_engines_backward():
    x, target = memory_batch(np.random.default_rng(1), QUICK)
    layer, head = build("rnn_tanh", QUICK, seed=0)
    _, d_x_by_hand = unrolled_tanh(layer, head, x, target)
    np.testing.assert_allclose(d_x_by_hand, measure(layer, head, x, target), rtol=1e-4)


def test_the_lstm_forget_gate_bias_is_the_one_stated():
    layer, _ = build("lstm", QUICK, seed=0)
    H = QUICK.hidden_size
    assert np.all(layer.bias_ih_l0.data[H:2 * H] == QUICK.forget_bias)


def test_the_verdict_follows_the_figures_direction():
    figures = {"distance": 50, "setup": {"train_steps": 10},
               "relative_grad_norm_at_distance": {"rnn_tanh": 1e-7, "lstm": 1e-3, "gru": 1e-5, "rnn_relu": 1e-9},
               "ratio_lstm_to_tanh_at_distance": 1e4, "ratio_lstm_to_tanh_at_distance_after_training": 0.5}
    text = verdict(figures)
    assert "1.0e+04x below the LSTM's" in text and "2.0e+00x above the LSTM's" in text


def test_the_tanh_rnns_gradient_50_steps_back_is_at_least_10x_below_the_lstms():
    figures = run_experiment("vanishing").figures  # the default size, as documented: about 7 s
    assert figures["distance"] == 50
    assert figures["ratio_lstm_to_tanh_at_distance"] >= 10
    assert figures["tanh_unrolled_vs_engine_max_relative_difference"] < 1e-3
