"""The long-range (adding problem) experiment: its data, its verdict and the known result."""

import json

import numpy as np
from threadpoolctl import threadpool_limits

from rnnlab.cli import main
from rnnlab.experiments.long_range import CELLS, QUICK, Setup, adding_batch, build, measure, verdict


def test_the_adding_batch_marks_one_step_in_each_half_and_sums_the_marked_numbers():
    x, y = adding_batch(np.random.default_rng(0), 10, 64)
    assert x.shape == (10, 64, 2) and y.shape == (64, 1)
    numbers, markers = x[..., 0], x[..., 1]
    assert np.all(markers[:5].sum(axis=0) == 1) and np.all(markers[5:].sum(axis=0) == 1)
    np.testing.assert_allclose(y[:, 0], (numbers * markers).sum(axis=0), rtol=1e-6)
    assert 0 <= numbers.min() and numbers.max() < 1


def test_the_lstm_forget_gate_bias_is_the_one_stated():
    layer, _ = build("lstm", QUICK, seed=0)
    H = QUICK.hidden_size
    assert np.all(layer.bias_ih_l0.data[H:2 * H] == QUICK.forget_bias)


def _figures(solved: dict, at_chance: dict) -> dict:
    lengths = [10, 50]
    return {"setup": {"lengths": lengths, "solved_mse": 0.05, "steps": 100, "hidden_size": 8, "forget_bias": 1.0},
            "solved": solved, "at_chance": at_chance, "chance_mse_on_test_batch": {10: 0.17, 50: 0.16},
            "test_mse": {c: {10: 0.01, 50: 0.17} for c in CELLS},
            "steps_to_solve": {c: {10: 100, 50: 100 if solved[c][50] else None} for c in CELLS}}


def test_the_verdict_follows_the_figures_direction():
    gated = {"rnn_tanh": {10: True, 50: False}, "lstm": {10: True, 50: True}, "gru": {10: True, 50: True}}
    chance = {"rnn_tanh": {10: False, 50: True}, "lstm": {10: False, 50: False}, "gru": {10: False, 50: False}}
    text = verdict(_figures(gated, chance))
    assert "the tanh RNN solved T = 10 and stayed at chance from T = 50" in text
    assert "the gates fix it at T = 50" in text and "the GRU is no worse than the LSTM" in text
    everyone = {c: {10: True, 50: True} for c in CELLS}
    nobody_at_chance = {c: {10: False, 50: False} for c in CELLS}
    text = verdict(_figures(everyone | {"gru": {10: True, 50: False}}, nobody_at_chance))
    assert "the tanh RNN solved every length" in text and "no length here shows the gates" in text
    assert "the GRU is worse than the LSTM here (it missed T = 50)" in text


def test_lstm_and_gru_solve_the_adding_problem_where_the_tanh_rnn_stays_at_chance():
    # The default set-up (T = 10..100, 2000 steps) takes about a minute; T = 50 alone with 800 steps
    # (about 5 s) keeps the result: in the default run the LSTM solves T = 50 by step 500, the GRU by step 300.
    with threadpool_limits(1):  # as `rnnlab experiment` runs it (--threads 1); more threads only slow these sizes
        figures = measure(Setup(lengths=(50,), steps=800)).figures
    assert figures["solved"]["lstm"][50] and figures["solved"]["gru"][50]
    assert figures["at_chance"]["rnn_tanh"][50] and not figures["solved"]["rnn_tanh"][50]
    assert figures["test_mse"]["rnn_tanh"][50] > 0.8 * figures["chance_mse_on_test_batch"][50]


def test_quick_run_through_the_cli_writes_its_plot_and_figures(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["experiment", "long-range", "--quick", "--out", str(out), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (out / "test_mse_by_length.png").read_bytes().startswith(b"\x89PNG")
    written = json.loads((out / "figures.json").read_text())
    keys = {"test_mse", "solved", "at_chance", "chance_mse", "steps_to_solve", "test_mse_during_training"}
    assert keys <= written.keys() and keys <= document.keys()
    assert document["experiment"] == "long-range" and document["plots"] == ["test_mse_by_length.png"]
    assert document["verdict"] == written["verdict"] and document["verdict"].startswith("Solved = test MSE below")
    assert set(written["test_mse"]["lstm"]) == {str(t) for t in QUICK.lengths}
