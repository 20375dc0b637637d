"""The encoder-decoder network (issue 16): PyTorch parity of the whole teacher-forced pass, padding, searches."""

import itertools

import numpy as np
import pytest

from rnnlab.nn import CrossEntropyLoss
from rnnlab.tasks.seq2seq_net import Seq2SeqNet, Seq2SeqNetConfig
from rnnlab.tasks.seq2seq_search import BOS, EOS, beam_search, greedy

SOURCE = np.array([[2, 3, 1], [4, 5, 0], [3, 0, 0]])  # (S, B): lengths 3, 2, 1 (0 is padding)
MASK = SOURCE != 0
TARGET_IN = np.array([[BOS, BOS, BOS], [5, 6, 4], [4, 5, 0]])  # (T, B)
TARGET_OUT = np.array([[5, 6, 4], [4, 5, EOS], [EOS, EOS, -1]])


def net64(cell="lstm", score="general", feeding=True, layers=2, seed=1, **kwargs) -> Seq2SeqNet:
    config = Seq2SeqNetConfig(6, 7, embedding_dim=3, hidden_size=4, cell=cell, score=score, input_feeding=feeding,
                              encoder_layers=layers, **kwargs)
    return Seq2SeqNet(config, dtype=np.float64, seed=seed)


@pytest.mark.parametrize("cell,score,feeding", list(itertools.product(("lstm", "gru", "rnn", "rnn_relu"),
                                                                  ("general", "additive", "dot"), (True, False))))
def test_loss_and_every_gradient_equal_the_torch_twin(cell, score, feeding):
    torch = pytest.importorskip("torch")
    from rnnlab.backends.torch_backend import twin_of

    net = net64(cell, score, feeding)
    batch = {"source": SOURCE, "source_mask": MASK, "target_in": TARGET_IN,
             "sample": np.array([[0, 0, 0], [1, 0, 1], [0, 1, 0]], bool)}  # scheduled sampling at three places
    loss = CrossEntropyLoss(ignore_index=-1, label_smoothing=0.1)
    ours = loss(net(batch), TARGET_OUT)
    net.backward(loss.backward())

    twin = twin_of(net, torch.float64)
    twin.load_state_dict({k: torch.tensor(v) for k, v in net.state_dict().items()})
    logits = twin({k: torch.tensor(v) for k, v in batch.items()})
    theirs = torch.nn.CrossEntropyLoss(ignore_index=-1, label_smoothing=0.1)(logits.reshape(-1, 7),
                                                                              torch.tensor(TARGET_OUT).reshape(-1))
    theirs.backward()
    assert abs(ours - theirs.item()) < 1e-12
    grads = dict(net.named_parameters())
    assert sorted(grads) == sorted(name for name, _ in twin.named_parameters())
    for name, p in twin.named_parameters():
        assert np.abs(grads[name].grad - p.grad.numpy()).max() < 1e-10, name


def test_gradients_match_central_differences():
    net = net64("lstm", "additive", True, dropout=0.0)
    batch = {"source": SOURCE, "source_mask": MASK, "target_in": TARGET_IN}
    loss = CrossEntropyLoss(ignore_index=-1, label_smoothing=0.1)
    loss(net(batch), TARGET_OUT)
    net.backward(loss.backward())
    rng = np.random.default_rng(0)
    for name, p in net.named_parameters():
        for index in {tuple(rng.integers(0, n) for n in p.data.shape) for _ in range(3)}:
            saved = p.data[index]
            p.data[index] = saved + 1e-6
            up = loss(net(batch), TARGET_OUT)
            p.data[index] = saved - 1e-6
            down = loss(net(batch), TARGET_OUT)
            p.data[index] = saved
            numeric, analytic = (up - down) / 2e-6, p.grad[index]
            assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(numeric) + abs(analytic)), (name, index)


def test_masked_batch_loss_is_the_sum_of_each_sequence_alone():
    net = net64("gru", "general", True)
    net.eval()  # (no dropout: the same arithmetic alone and together)
    loss = CrossEntropyLoss(ignore_index=-1, reduction="sum")
    together = loss(net({"source": SOURCE, "source_mask": MASK, "target_in": TARGET_IN}), TARGET_OUT)
    alone = 0.0
    for b in range(3):
        S, T = MASK[:, b].sum(), (TARGET_OUT[:, b] >= 0).sum()
        source = SOURCE[:S, b : b + 1]
        alone += loss(net({"source": source, "source_mask": source != 0, "target_in": TARGET_IN[:T, b : b + 1]}),
                      TARGET_OUT[:T, b : b + 1])
    assert abs(together - alone) < 1e-10


@pytest.mark.parametrize("beam", [1, 3])
def test_a_row_decodes_the_same_alone_and_in_a_padded_batch(beam):
    net = net64("lstm", "general", True, seed=3)
    net.eval()
    together = beam_search(net, SOURCE, MASK, max_len=6, beam=beam)
    for b, found in enumerate(together):
        source = SOURCE[: MASK[:, b].sum(), b : b + 1]
        (alone,) = beam_search(net, source, source != 0, max_len=6, beam=beam)
        assert alone.tokens == found.tokens and abs(alone.score - found.score) < 1e-9
        assert abs(alone.log_prob - found.log_prob) < 1e-9
        np.testing.assert_allclose(alone.weights, found.weights, atol=1e-12)
        assert found.weights.shape[1] == source.shape[0]  # weights over the row's real source steps only


def all_outputs(vocab: range, max_len: int):
    """Every output a search can return: token lists ending in </s> within max_len steps, or max_len long."""
    for n in range(max_len):
        for tokens in itertools.product(vocab, repeat=n):
            yield list(tokens), True
    for tokens in itertools.product(vocab, repeat=max_len):
        yield list(tokens), False


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_a_beam_wide_enough_finds_the_best_output_of_all(length_penalty):
    """Exhaustive search over a vocabulary of 2 real tokens (ids 4, 5) and 3 steps: the wide beam's answer is the
    best of every possible output by log-probability / length ** penalty."""
    from rnnlab.nn.losses import log_softmax

    config = Seq2SeqNetConfig(6, 6, embedding_dim=3, hidden_size=4, cell="gru")
    net = Seq2SeqNet(config, dtype=np.float64, seed=5)
    net.eval()
    source, mask = SOURCE[:, :1], MASK[:, :1]
    net.decoder.out.bias.data[:4] = [-30, -30, -30, 0.5]  # only the real tokens and </s> are likely
    max_len = 3

    def score(tokens: list[int], ended: bool, penalty: float = length_penalty) -> float:
        ids = [*tokens, EOS] if ended else tokens
        logits = net({"source": source, "source_mask": mask, "target_in": np.array([[BOS, *ids[:-1]]]).T})
        total = sum(log_softmax(logits[t, 0])[i] for t, i in enumerate(ids))
        return total / len(ids) ** penalty

    best = max(all_outputs(range(4, 6), max_len), key=lambda out: score(*out))
    (found,) = beam_search(net, source, mask, max_len, beam=40, length_penalty=length_penalty)
    assert found.tokens == best[0]
    assert abs(found.score - score(*best)) < 1e-9
    assert abs(found.log_prob - score(*best, penalty=0.0)) < 1e-9


def test_greedy_is_beam_search_of_width_one_and_stops_at_the_end_token():
    net = net64("rnn", "dot", False, seed=7)
    net.eval()
    found = greedy(net, SOURCE, MASK, max_len=5)
    assert [h.tokens for h in found] == [h.tokens for h in beam_search(net, SOURCE, MASK, 5, beam=1)]
    for h in found:
        assert EOS not in h.tokens and len(h.tokens) <= 5
        assert len(h.weights) in (len(h.tokens) + 1, 5)  # a row per step: the tokens and </s>, or max_len
        np.testing.assert_allclose(h.weights.sum(axis=1), 1.0)


@pytest.mark.parametrize("beam", [1, 3])
def test_searches_never_output_padding_or_the_start_token(beam):
    net = net64("lstm", "general", True, seed=2)
    net.eval()
    net.decoder.out.bias.data[[0, BOS]] = 50.0  # an untrained model that would love to say <pad> and <s>
    for found in beam_search(net, SOURCE, MASK, max_len=4, beam=beam):
        assert not {0, BOS} & set(found.tokens) and np.isfinite(found.log_prob)
