import numpy as np
import pytest

from rnnlab.diagnostics.gradcheck import numerical_gradient, relative_error
from rnnlab.nn import Dropout, Embedding, Linear

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need the 'test' extra")


def test_linear_matches_torch_forward_and_backward():
    rng = np.random.default_rng(0)
    ours = Linear(5, 3, dtype=np.float64, seed=0)
    theirs = torch.nn.Linear(5, 3, dtype=torch.float64)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x, R = rng.normal(size=(4, 2, 5)), rng.normal(size=(4, 2, 3))
    t_x = torch.tensor(x, requires_grad=True)
    y, t_y = ours(x), theirs(t_x)
    d_x = ours.backward(R)
    (t_y * torch.from_numpy(R)).sum().backward()
    np.testing.assert_allclose(y, t_y.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(d_x, t_x.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), atol=1e-12)


def test_embedding_gradient_accumulates_repeated_ids_and_skips_padding():
    emb = Embedding(6, 3, padding_idx=0, dtype=np.float64, seed=0)
    ids = np.array([[1, 2, 2], [0, 5, 1]])
    R = np.random.default_rng(1).normal(size=(2, 3, 3))
    emb(ids)
    emb.backward(R)

    def loss():
        return float((emb.weight.data[ids] * R).sum())

    numeric = numerical_gradient(loss, emb.weight.data)
    numeric[0] = 0  # padding row is frozen
    assert relative_error(emb.weight.grad, numeric) < 1e-9
    assert not emb.weight.data[0].any()


def test_dropout_scales_kept_units_and_is_identity_in_eval():
    drop = Dropout(0.25, seed=0)
    x = np.ones((1000, 10), np.float32)
    y = drop(x)
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.02
    np.testing.assert_array_equal(drop.backward(np.ones_like(x)), y)
    drop.eval()
    assert drop(x) is x
