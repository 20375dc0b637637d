"""SequenceModel and the table path of the recurrent layers (`forward_ids`)."""

import numpy as np
import pytest

from rnnlab.nn import GRU, LSTM, RNN, CrossEntropyLoss
from rnnlab.nn.models import ModelConfig, SequenceModel


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_forward_ids_equals_forward_on_the_looked_up_rows(cls, bidirectional, batch_first):
    T, B, V, I, H = 6, 4, 5, 3, 7
    rng = np.random.default_rng(0)
    ids = rng.integers(0, V, size=(B, T) if batch_first else (T, B))
    mask = np.arange(T)[None, :] < np.array([6, 2, 5, 1])[:, None]  # (B, T)
    mask = mask if batch_first else mask.T
    table = rng.normal(size=(V, I))
    d_out = rng.normal(size=ids.shape + (H * (2 if bidirectional else 1),))
    results = []
    for by_table in (False, True):
        layer = cls(I, H, num_layers=2, bidirectional=bidirectional, batch_first=batch_first, dtype=np.float64,
                    seed=1)
        output, _ = layer.forward_ids(ids, table, mask=mask) if by_table else layer(table[ids], mask=mask)
        d_in = layer.backward(d_out)
        if not by_table:  # d x per step -> d table, summed per id
            d_table = np.zeros_like(table)
            np.add.at(d_table, ids.ravel(), d_in.reshape(-1, I))
            d_in = d_table
        results.append([output, d_in] + [p.grad for p in layer.parameters()])
    for by_rows, by_table in zip(*results, strict=True):
        np.testing.assert_allclose(by_table, by_rows, rtol=1e-12, atol=1e-12)


def test_forward_ids_refuses_ids_outside_the_table():
    with pytest.raises(Exception, match=r"ids must lie in \[0, 5\), got 0..5"):
        LSTM(3, 4).forward_ids(np.array([[0], [5]]), np.zeros((5, 3), np.float32))


@pytest.mark.parametrize("embedding_dim", [None, 5])
@pytest.mark.parametrize("T", [1, 20])  # 1 x 3 tokens: looked up row by row; 20 x 3: through the table
def test_sequence_model_equals_the_torch_backend(embedding_dim, T):
    torch = pytest.importorskip("torch")
    from rnnlab.backends.torch_backend import TorchSequenceModel, to_torch_state

    config = ModelConfig(vocab_size=11, num_outputs=11, cell="lstm", hidden_size=6, num_layers=2, bidirectional=True,
                         embedding_dim=embedding_dim)
    ours = SequenceModel(config, dtype=np.float64, seed=0)
    theirs = TorchSequenceModel(config, dtype=torch.float64)
    theirs.load_state_dict(to_torch_state(ours.state_dict()))
    rng = np.random.default_rng(1)
    ids, targets = rng.integers(0, 11, size=(T, 3)), rng.integers(0, 11, size=(T, 3))
    loss = CrossEntropyLoss()
    logits, _ = ours(ids)
    loss(logits, targets)
    ours.backward(loss.backward())
    assert ours._by_table == (T == 20)
    t_logits, _ = theirs(torch.from_numpy(ids))
    torch.nn.functional.cross_entropy(t_logits.reshape(-1, 11), torch.from_numpy(targets).reshape(-1)).backward()
    np.testing.assert_allclose(logits, t_logits.detach().numpy(), rtol=0, atol=1e-12)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, dict(theirs.named_parameters())[name].grad.numpy(), rtol=0, atol=1e-12,
                                   err_msg=name)
