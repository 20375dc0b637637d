"""What docs/questions/index.md says the notes get wrong, checked."""

import numpy as np

from rnnlab.nn import CrossEntropyLoss, softmax


def test_min_char_rnn_backward_is_the_gradient_of_softmax_cross_entropy_not_of_a_quadratic_cost():
    rng = np.random.default_rng(0)
    logits, target = rng.normal(size=(1, 65)), np.array([7])
    p = softmax(logits)
    seed_dy = p.copy()
    seed_dy[0, target] -= 1  # min-char-rnn: dy = np.copy(ps[t]); dy[targets[t]] -= 1

    loss_fn = CrossEntropyLoss(reduction="sum")
    loss_fn(logits, target)
    np.testing.assert_allclose(loss_fn.backward(), seed_dy, atol=1e-12)  # d(-log p_target)/dz = p - y

    # The gradient of the quadratic cost 0.5 * ||p - y||^2 with respect to the logits goes through the softmax
    # Jacobian (diag(p) - p p^T) and is a different vector.
    y = np.eye(65)[target]
    quadratic = (p - y) @ (np.diag(p[0]) - np.outer(p[0], p[0]))
    assert np.abs(quadratic - seed_dy).max() > 0.1
