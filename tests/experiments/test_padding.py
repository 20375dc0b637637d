"""The padding experiment: masked training's answers do not depend on padding, unmasked ones do."""

import json

import numpy as np

from rnnlab.cli import main
from rnnlab.experiments import run_experiment
from rnnlab.experiments.padding import QUICK, build, pad, probabilities, verdict


def test_the_mask_makes_a_sequences_answer_independent_of_its_padding():
    layer, head = build(QUICK, seed=0)
    seqs = [np.random.default_rng(1).random((n, 1)).astype(np.float32) for n in (5, 9, 20)]
    alone = np.array([probabilities(layer, head, s[:, None], None)[0] for s in seqs])
    for side in ("post", "pre"):
        x, mask = pad(seqs, 40, side)
        np.testing.assert_allclose(probabilities(layer, head, x, mask), alone, atol=1e-6)
        # untrained weights: a small change without the mask, but far above float noise
        assert np.abs(probabilities(layer, head, x, None) - alone).max() > 1e-4


def test_masked_answers_do_not_depend_on_padding_while_unmasked_ones_do():
    result = run_experiment("padding")  # the default size, as documented: about 4 s
    figures = result.figures
    assert figures["largest_prediction_change"]["masked"] < 1e-5
    assert figures["largest_prediction_change"]["unmasked"] > 0.1
    assert figures["depends_on_padding"] == {"masked": False, "unmasked": True}
    masked, unmasked = figures["accuracy"]["masked"], figures["accuracy"]["unmasked"]
    assert len(set(masked["post"] + masked["pre"] + [figures["accuracy_unpadded"]["masked"]])) == 1
    assert masked["post"][0] > 0.9
    assert unmasked["post"][-1] < unmasked["post"][0] - 0.2  # 30 extra steps cost the unmasked model accuracy
    assert "Masked training's answers do not depend on padding" in result.verdict


def test_the_verdict_follows_the_figures_direction():
    figures = {"setup": {"extra_padding": [0, 10]}, "largest_prediction_change": {"masked": 0.3, "unmasked": 1e-9},
               "depends_on_padding": {"masked": True, "unmasked": False},
               "accuracy_unpadded": {"masked": 0.9, "unmasked": 0.8},
               "worst_accuracy": {"masked": 0.5, "unmasked": 0.8},
               "accuracy": {"unmasked": {"post": [0.8, 0.8]}}}
    text = verdict(figures)
    assert "Masked training's answers depend on padding" in text
    assert "unmasked training's answers do not depend on padding" in text


def test_quick_run_through_the_cli_writes_its_plot_and_figures(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["experiment", "padding", "--quick", "--out", str(out), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (out / "accuracy_against_padding.png").read_bytes().startswith(b"\x89PNG")
    written = json.loads((out / "figures.json").read_text())
    keys = {"accuracy", "max_prediction_change", "largest_prediction_change", "depends_on_padding", "verdict"}
    assert keys <= written.keys() and keys <= document.keys()
    assert document["plots"] == ["accuracy_against_padding.png"] and document["verdict"] == written["verdict"]
