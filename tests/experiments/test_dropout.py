"""The dropout experiment: the known result at the default size, the verdict and the CLI."""

import json

from threadpoolctl import threadpool_limits

from rnnlab.cli import main
from rnnlab.experiments.dropout import Setup, measure, verdict


def test_dropout_between_layers_narrows_the_gap_between_training_and_validation_loss():
    # The default size takes about 25 s on one core; here a smaller set-up where the result holds too (about 10 s):
    # 2 x 96 LSTM, 500 steps on 10,000 characters (28 passes).
    setup = Setup(corpus_chars=10_000, hidden_size=96, steps=500)
    with threadpool_limits(1):
        figures = measure(setup).figures
    gap = figures["final_gap"]
    assert gap["0.3"] < gap["0.0"]
    assert gap["0.0"] > 0.3  # the run without dropout overfits: validation well above training loss
    assert figures["best_val_step"]["0.0"] < figures["steps"][-1]  # and its validation loss rose again


def test_the_verdict_says_so_when_dropout_does_not_help():
    figures = {"dropouts": [0.0, 0.3], "steps": [10, 20], "best_val_step": {"0.0": 20, "0.3": 20},
               "setup": {"epochs": 2.0, "train_characters": 1000},
               "final_gap": {"0.0": 0.1, "0.3": 0.2}, "best_val_loss": {"0.0": 1.5, "0.3": 1.6},
               "final_val_loss": {"0.0": 1.5, "0.3": 1.6}}
    assert "dropout did not narrow the gap and did not end with a lower validation loss" in verdict(figures)


def test_quick_run_through_the_cli_writes_its_plot_and_figures(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["experiment", "dropout", "--quick", "--out", str(out), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (out / "dropout.png").read_bytes().startswith(b"\x89PNG")
    written = json.loads((out / "figures.json").read_text())
    keys = {"train_loss", "val_loss", "best_val_loss", "final_val_loss", "final_gap"}
    assert keys <= written.keys() and keys <= document.keys()
    assert document["plots"] == ["dropout.png"] and document["verdict"] == written["verdict"]
