import numpy as np
import pytest

from rnnlab.diagnostics import gradcheck as gc
from rnnlab.diagnostics.gradcheck import GradcheckConfig, gradcheck, grid, masked_grid


@pytest.mark.parametrize("config", list(grid()) + list(masked_grid()), ids=GradcheckConfig.label)
def test_every_gradient_matches_central_differences(config):
    errors = gradcheck(config)
    assert max(errors.values()) < 1e-6, errors


def test_gradcheck_catches_a_wrong_derivative(monkeypatch):
    # Break tanh' in the RNN backward (use 1 - h instead of 1 - h^2): the check must fail.
    import rnnlab.nn.rnn as rnn_module

    original = rnn_module.rnn_backward

    def broken(d_out, d_h_n, cache, ws=None, relay=None):
        states, *rest = cache
        return original(d_out, d_h_n, (np.sqrt(np.abs(states)) * np.sign(states), *rest), ws, relay)

    monkeypatch.setattr("rnnlab.nn.recurrent.rnn_backward", broken)
    errors = gc.gradcheck(GradcheckConfig("rnn_tanh"))
    assert max(errors.values()) > 1e-3
