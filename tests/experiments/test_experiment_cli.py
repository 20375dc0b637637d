"""`rnnlab experiment NAME`: the mechanics, in --quick mode, through the command line."""

import json

import pytest

from rnnlab.cli import main


@pytest.mark.parametrize(("name", "plot", "keys"), [
    ("vanishing", "gradient_norms.png", {"grad_norm_at", "spectral_radius", "ratio_lstm_to_tanh_at_distance"}),
    ("exploding", "loss_and_gradient_norm.png", {"final_loss", "max_grad_norm", "diverged"}),
])
def test_quick_run_writes_its_plot_and_figures_and_prints_a_verdict(name, plot, keys, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["experiment", name, "--quick", "--out", str(out), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (out / plot).read_bytes().startswith(b"\x89PNG")
    written = json.loads((out / "figures.json").read_text())
    assert keys <= written.keys() and keys <= document.keys()
    assert document["experiment"] == name and document["plots"] == [plot]
    assert document["verdict"] == written["verdict"] and len(document["verdict"]) > 40


def test_without_json_the_verdict_is_printed(tmp_path, capsys):
    assert main(["experiment", "exploding", "--quick", "--quiet", "--out", str(tmp_path / "x")]) == 0
    assert capsys.readouterr().out.startswith("With W_hh at spectral radius")


def test_an_unknown_experiment_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys):
    assert main(["experiment", "nope", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown experiment 'nope'" in err and "vanishing" in err
    assert not (tmp_path / "x").exists()
