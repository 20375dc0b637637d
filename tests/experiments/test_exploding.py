"""The exploding-gradient experiment: the known result at the default size, and its verdict."""

import math

import numpy as np

from rnnlab.experiments import run_experiment
from rnnlab.experiments.exploding import QUICK, build, verdict


def test_w_hh_is_scaled_to_the_stated_spectral_radius():
    layer, _ = build(QUICK, seed=0)
    radius = np.abs(np.linalg.eigvals(layer.weight_hh_l0.data.astype(np.float64))).max()
    assert math.isclose(radius, QUICK.spectral_radius, rel_tol=1e-5)


def test_clipping_keeps_the_run_finite_where_the_unclipped_one_diverges():
    result = run_experiment("exploding")  # the default size: about a second
    figures = result.figures
    assert figures["diverged"] == {"none": True, "value": False, "norm": False}
    assert all(math.isfinite(figures["final_loss"][mode]) for mode in ("value", "norm"))
    assert figures["max_grad_norm"]["none"] > 1e3 * max(figures["max_grad_norm"][m] for m in ("value", "norm"))
    assert "clipping kept the run finite where the unclipped one diverged" in result.verdict


def test_the_verdict_says_so_when_nothing_diverged():
    figures = {"setup": {"spectral_radius": 1.5}, "diverged": dict.fromkeys(("none", "value", "norm"), False),
               "diverged_at_step": dict.fromkeys(("none", "value", "norm")),
               "final_loss": dict.fromkeys(("none", "value", "norm"), 0.5),
               "max_grad_norm": dict.fromkeys(("none", "value", "norm"), 2.0)}
    assert "no run diverged" in verdict(figures)
