"""The normalisation experiment: the same start for both layers, the measured result, its verdict and the CLI."""

import json
from dataclasses import replace

import numpy as np

from rnnlab.cli import main
from rnnlab.experiments.normalisation import LAST, QUICK, Setup, batch_statistics, build_pair, verdict
from rnnlab.experiments.vanishing import measure, memory_batch, train


def test_both_layers_start_from_the_same_weights_and_forget_gate_bias():
    lstm, lstm_head = build_pair("lstm", QUICK, seed=0)
    ln_lstm, ln_head = build_pair("ln_lstm", QUICK, seed=0)
    for name, value in lstm.state_dict().items():
        np.testing.assert_array_equal(getattr(ln_lstm, name).data, value)
    np.testing.assert_array_equal(ln_head.weight.data, lstm_head.weight.data)
    H = QUICK.hidden_size
    assert np.all(ln_lstm.bias_ih_l0.data[H:2 * H] == QUICK.forget_bias)


def test_at_initialisation_the_ln_lstm_keeps_more_gradient_50_steps_back():
    setup = Setup()  # the default size; the measurement alone, without the training runs
    x, target = memory_batch(np.random.default_rng(1), setup)
    relative = {}
    for name in ("lstm", "ln_lstm"):
        norms = measure(*build_pair(name, setup, seed=0), x, target)
        relative[name] = norms[setup.distance] / norms[0]
    assert relative["ln_lstm"] > 100 * relative["lstm"], relative


def test_at_length_30_the_ln_lstm_learns_the_task_and_the_lstm_stays_at_chance():
    setup = replace(Setup(), seq_len=30)  # the default run's shorter training length alone: about 8 s
    final = {}
    for name in ("lstm", "ln_lstm"):
        losses, _ = train(*build_pair(name, setup, seed=0), setup, np.random.default_rng(2))
        final[name] = np.mean(losses[-LAST:])
    chance = np.log(setup.symbols)
    assert final["ln_lstm"] < 0.1 * chance and final["lstm"] > 0.9 * chance, final


def test_batch_statistics_of_the_recurrent_input_differ_by_step():
    lstm, _ = build_pair("lstm", QUICK, seed=0)
    std, mean = batch_statistics(lstm, memory_batch(np.random.default_rng(1), QUICK)[0])
    assert std.shape == mean.shape == (QUICK.seq_len,)
    assert std[0] == 0 and mean[0] == 0  # h_0 = 0: nothing to normalise by at the first step
    assert std[1:].max() > 1.2 * std[1:].min()


def test_the_verdict_follows_the_figures_direction():
    figures = {"distance": 50, "setup": {"train_steps": 10, "train_lengths": [30]},
               "relative_grad_norm_at_distance": {"lstm": 1e-3, "ln_lstm": 1e-5},
               "ratio_ln_to_lstm_at_distance": 0.01, "final_loss": {"lstm@30": 0.5, "ln_lstm@30": 2.0},
               "chance_loss": 2.079, "batch_std_by_step": [0.0, 0.1, 0.2]}
    text = verdict(figures)
    assert "1/1.0e+02 of the LSTM's" in text
    assert "its loss is 2.000 against the LSTM's 0.500" in text


def test_quick_run_through_the_cli_writes_its_plot_and_figures(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["experiment", "normalisation", "--quick", "--out", str(out), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (out / "normalisation.png").read_bytes().startswith(b"\x89PNG")
    written = json.loads((out / "figures.json").read_text())
    keys = {"grad_norm_at", "relative_grad_norm_at_distance", "final_loss", "losses", "batch_std_by_step",
            "ln_alone_vs_in_batch_max_difference", "verdict"}
    assert keys <= written.keys() and keys <= document.keys()
    assert document["plots"] == ["normalisation.png"] and document["verdict"] == written["verdict"]
    assert written["ln_alone_vs_in_batch_max_difference"] < 1e-5
