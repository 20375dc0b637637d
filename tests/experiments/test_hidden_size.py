"""The hidden-size experiment: one setting changes between runs, the verdict follows the figures, the CLI."""

import json
from dataclasses import replace

from threadpoolctl import threadpool_limits

from rnnlab.cli import main
from rnnlab.experiments.hidden_size import QUICK, Setup, measure, settings, verdict


def test_only_the_hidden_size_changes_between_runs():
    small, large = settings(Setup(), 16, seed=0), settings(Setup(), 256, seed=0)
    assert {k for k in small if small[k] != large[k]} == {"hidden_size"}


def test_more_hidden_units_lower_the_loss_of_a_short_run():
    # smaller than the default (2 sizes, 150 steps on 30 KB: 3 s) where the direction already shows
    with threadpool_limits(1):
        figures = measure(replace(QUICK, corpus_chars=30_000, hidden_sizes=(8, 64), steps=150, eval_every=50)).figures
    assert figures["final_val_loss"][1] < figures["final_val_loss"][0] - 0.1
    assert figures["parameters"][1] > figures["parameters"][0]


def test_the_verdict_names_the_smallest_size_within_reach_of_the_best():
    figures = {"setup": {"steps": 100, "within": 0.02}, "hidden_sizes": [16, 64, 256],
               "final_val_loss": [2.0, 1.61, 1.60], "parameters": [1, 2, 3], "smallest_within": 64}
    assert "64 units (2 parameters) already come within 2%" in verdict(figures)
    figures |= {"final_val_loss": [2.0, 1.8, 1.6], "smallest_within": 256}
    assert "still improving with size" in verdict(figures)


def test_quick_run_through_the_cli_writes_its_plot_and_figures(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["experiment", "hidden-size", "--quick", "--out", str(out), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (out / "hidden_size.png").read_bytes().startswith(b"\x89PNG")
    written = json.loads((out / "figures.json").read_text())
    keys = {"hidden_sizes", "parameters", "final_val_loss", "smallest_within", "val_loss_curves"}
    assert keys <= written.keys() and keys <= document.keys()
    assert document["plots"] == ["hidden_size.png"] and document["verdict"] == written["verdict"]
