"""The classifier's convolutional branch (issue 17): gradcheck, padding, and its PyTorch twin (engine="torch").

The batches are post-padded series of different lengths whose padded steps hold random values, which must
change nothing. Batch norm's weight, bias and running statistics start away from 1, 0, 0 and 1, so eval mode
and the affine step are exercised too.
"""

import copy

import numpy as np
import pytest

from rnnlab.data.batching import pad_sequences
from rnnlab.diagnostics.differences import numerical_gradient
from rnnlab.nn import CrossEntropyLoss
from rnnlab.tasks.classify import SequenceClassifier
from rnnlab.tasks.classify_config import ClassifyConfig
from rnnlab.tasks.classify_net import ClassifierNet

LENGTHS = (9, 4, 6, 2)
TARGET = np.array([0, 2, 1, 2])


def padded_batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Series of LENGTHS steps and 3 features -> x (B, T, 3) float64, mask (B, T); random values at padded steps."""
    rng = np.random.default_rng(seed)
    x, mask = pad_sequences([rng.normal(size=(n, 3)) for n in LENGTHS], dtype=np.float64)
    x[~mask] = rng.normal(size=(int((~mask).sum()), 3))
    return x, mask


def net64(cell: str = "lstm", pooling: str = "mean", bidirectional: bool = True, seed: int = 0) -> ClassifierNet:
    config = ClassifyConfig(cell=cell, hidden_size=3, conv_filters=3, pooling=pooling, bidirectional=bidirectional,
                            dropout=0.0)
    net = ClassifierNet(3, 3, config, text=False, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 1)
    for name, p in net.named_parameters():
        if ".bn" in name:
            p.data[...] = rng.normal(size=p.shape)
    for name, array in net.named_buffers():
        if name.endswith("running_mean"):
            array[...] = rng.normal(size=array.shape)
        elif name.endswith("running_var"):
            array[...] = rng.uniform(0.5, 2.0, size=array.shape)
    return net


@pytest.mark.parametrize("training", [True, False])
def test_network_gradients_match_central_differences(training):
    net, (x, mask), loss = net64().train(training), padded_batch(), CrossEntropyLoss()
    net.zero_grad()
    loss(net(x, mask), TARGET)
    net.backward(loss.backward())
    for name, p in net.named_parameters():
        numeric = numerical_gradient(lambda: loss(net(x, mask), TARGET), p.data)
        np.testing.assert_allclose(p.grad, numeric, rtol=1e-6, atol=1e-8, err_msg=name)  # (noise: ~1e-10)


def test_a_series_alone_has_the_logits_it_has_in_a_padded_batch_in_eval_mode():
    net, (x, mask) = net64().eval(), padded_batch()
    together = net(x, mask)  # (B, C)
    for b, n in enumerate(LENGTHS):
        alone = net(x[b : b + 1, :n], mask[b : b + 1, :n])  # no padding at all
        np.testing.assert_allclose(alone[0], together[b], rtol=0, atol=1e-12)
    more_padding = net(np.concatenate([x, np.ones((4, 5, 3))], axis=1), np.pad(mask, ((0, 0), (0, 5))))
    np.testing.assert_allclose(more_padding, together, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell,pooling,bidirectional", [("lstm", "mean", True), ("gru", "last", False),
                                                        ("rnn", "max", True)])
def test_logits_gradients_and_running_statistics_equal_the_torch_twin(cell, pooling, bidirectional):
    torch = pytest.importorskip("torch")
    from rnnlab.backends.torch_backend import twin_of

    net, (x, mask), loss = net64(cell, pooling, bidirectional), padded_batch(), CrossEntropyLoss()
    twin = twin_of(net, torch.float64)
    twin.load_state_dict({k: torch.tensor(v) for k, v in net.state_dict().items()})
    assert sorted(net.state_dict()) == sorted(twin.state_dict())
    for training in (True, False):
        net.train(training), twin.train(training)
        net.zero_grad(), twin.zero_grad()
        ours = net(x, mask)
        loss(ours, TARGET)
        net.backward(loss.backward())
        theirs = twin(torch.tensor(x), torch.tensor(mask))
        torch.nn.functional.cross_entropy(theirs, torch.tensor(TARGET)).backward()
        assert np.abs(ours - theirs.detach().numpy()).max() < 1e-10, training
        grads = dict(net.named_parameters())
        for name, p in twin.named_parameters():
            assert np.abs(grads[name].grad - p.grad.numpy()).max() < 1e-10, (training, name)
        buffers = dict(net.named_buffers())
        for name, tensor in twin.named_buffers():  # moved by the training forward, untouched by the eval one
            assert np.abs(buffers[name] - tensor.numpy()).max() < 1e-12, (training, name)


def test_the_torch_engine_keeps_the_running_statistics_in_the_nets_arrays():
    pytest.importorskip("torch")
    from rnnlab.backends.torch_engine import TorchEngine

    net, (x, mask) = net64(), padded_batch()
    reference, engine = copy.deepcopy(net), TorchEngine(net)
    for _ in range(2):
        engine(x, mask), reference(x, mask)
    ours, theirs = reference.state_dict(), engine.state_dict()
    assert theirs["fcn.bn3.num_batches_tracked"] == 2
    for name in ours:
        np.testing.assert_allclose(theirs[name], ours[name], rtol=0, atol=1e-12, err_msg=name)
    engine.eval(), reference.eval()
    np.testing.assert_allclose(engine(x, mask), reference(x, mask), rtol=0, atol=1e-12)


def test_a_torch_run_loads_on_numpy_with_its_running_statistics(tmp_path):
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    series = [rng.normal(size=(n, 2)) + (n % 2) for n in rng.integers(5, 15, size=16)]
    labels = ["odd" if len(s) % 2 else "even" for s in series]
    for trained_on, loaded_on in (("torch", "numpy"), ("numpy", "torch")):
        model = SequenceClassifier(conv_filters=4, hidden_size=4, epochs=2, batch_size=4, dropout=0.0,
                                   val_fraction=0.0, engine=trained_on).fit(series, labels, progress=False)
        model.save(tmp_path / trained_on)
        other = SequenceClassifier.load(tmp_path / trained_on, engine=loaded_on)
        state = other.nets_[0].state_dict()
        assert state["fcn.bn1.num_batches_tracked"] == 8  # 2 epochs of 4 batches
        assert np.abs(state["fcn.bn2.running_mean"]).min() > 0
        np.testing.assert_allclose(other.predict_proba(series), model.predict_proba(series), rtol=0, atol=1e-5)
