"""rnnlab.nn.utils.rnn against torch.nn.utils.rnn, and packed batches through RNN/LSTM/GRU against torch.nn."""

import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.nn import GRU, LSTM, RNN
from rnnlab.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
)

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need the 'test' extra")
R = pytest.importorskip("torch.nn.utils.rnn")

LENGTHS = np.array([3, 6, 1, 6, 2])  # unsorted, with a tie


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_and_pad_equal_torch(batch_first, enforce_sorted):
    lengths = np.sort(LENGTHS)[::-1].copy() if enforce_sorted else LENGTHS
    x = np.random.default_rng(0).normal(size=(5, 6, 2) if batch_first else (6, 5, 2))
    ours = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    theirs = R.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), batch_first=batch_first,
                                    enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(ours.data, theirs.data.numpy())
    np.testing.assert_array_equal(ours.batch_sizes, theirs.batch_sizes.numpy())
    for mine, yours in [(ours.sorted_indices, theirs.sorted_indices), (ours.unsorted_indices, theirs.unsorted_indices)]:
        assert (mine is None) == (yours is None) and (mine is None or mine.tolist() == yours.tolist())
    padded, out_lengths = pad_packed_sequence(ours, batch_first, padding_value=-1.0, total_length=8)
    t_padded, t_lengths = R.pad_packed_sequence(theirs, batch_first, padding_value=-1.0, total_length=8)
    np.testing.assert_array_equal(padded, t_padded.numpy())
    assert out_lengths.tolist() == t_lengths.tolist() and out_lengths.dtype == np.int64


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_equals_torch(batch_first, side):
    seqs = [np.random.default_rng(i).normal(size=(n, 2)) for i, n in enumerate((2, 5, 3))]
    ours = pad_sequence(seqs, batch_first=batch_first, padding_value=7.0, padding_side=side)
    theirs = R.pad_sequence([torch.tensor(s) for s in seqs], batch_first, 7.0, side)
    np.testing.assert_array_equal(ours, theirs.numpy())


def test_pack_sequence_and_unpack_round_trip():
    seqs = [np.arange(n, dtype=float) for n in (2, 5, 3)]
    packed = pack_sequence(seqs, enforce_sorted=False)
    theirs = R.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(packed.data, theirs.data.numpy())
    assert [s.tolist() for s in unpack_sequence(packed)] == [s.tolist() for s in seqs]
    assert PackedSequence._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    data, batch_sizes, sorted_indices, unsorted_indices = packed  # a NamedTuple, as PyTorch's
    assert unsorted_indices.tolist() == [2, 0, 1]
    assert PackedSequence(data, batch_sizes, sorted_indices).unsorted_indices.tolist() == [2, 0, 1]


@pytest.mark.parametrize("call, message", [
    (lambda x: pack_padded_sequence(x, [2, 5, 1]), "must be sorted in decreasing order when `enforce_sorted`"),
    (lambda x: pack_padded_sequence(x, [5, 2, 0]), "Length of all samples has to be greater than 0"),
    (lambda x: pack_padded_sequence(x, [2, -1, 5], enforce_sorted=False), "greater than 0"),
    (lambda x: pack_padded_sequence(x, [6, 2, 1]), "at most the input's sequence length 5"),
    (lambda x: pack_padded_sequence(x, [5, 2]), r"Expected `len\(lengths\)` to be equal to batch_size"),
    (lambda x: pack_padded_sequence(x[:, :0], []), "Cannot pack empty tensors"),
    (lambda x: pad_packed_sequence(pack_padded_sequence(x, [5, 2, 1]), total_length=3), "total_length=3"),
    (lambda x: pad_sequence([]), "empty list of sequences"),
    (lambda x: pack_sequence([]), "empty list of sequences"),
    (lambda x: pad_sequence([x[0], x[1]], padding_side="middle"), "one of left or right"),
])
def test_packing_mistakes_raise_pytorch_messages(call, message):
    with pytest.raises(RnnlabError, match=message):
        call(np.zeros((5, 3, 2)))


def _pair(cls, batch_first, **kwargs):
    ours = cls(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first, dtype=np.float64, seed=1, **kwargs)
    theirs = getattr(torch.nn, cls.__name__)(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first,
                                             dtype=torch.float64, **kwargs)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("with_hx", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_packed_bidirectional_two_layers_unsorted_equals_torch(cls, batch_first, with_hx):
    rng = np.random.default_rng(0)
    ours, theirs = _pair(cls, batch_first)
    is_lstm, B, T = cls is LSTM, len(LENGTHS), LENGTHS.max()
    x = rng.normal(size=(B, T, 3) if batch_first else (T, B, 3))
    states = [rng.normal(size=(4, B, 4)) for _ in range(1 + is_lstm)]
    hx = (tuple(states) if is_lstm else states[0]) if with_hx else None
    t_x, t_states = torch.tensor(x, requires_grad=True), [torch.tensor(s, requires_grad=True) for s in states]
    t_hx = (tuple(t_states) if is_lstm else t_states[0]) if with_hx else None
    out, finals = ours(pack_padded_sequence(x, LENGTHS, batch_first, enforce_sorted=False), hx)
    t_packed = R.pack_padded_sequence(t_x, torch.tensor(LENGTHS), batch_first, enforce_sorted=False)
    t_out, t_finals = theirs(t_packed, t_hx)
    assert isinstance(out, PackedSequence) and out.batch_sizes.tolist() == t_out.batch_sizes.tolist()
    finals, t_finals = (finals, t_finals) if is_lstm else ((finals,), (t_finals,))
    d_out, d_finals = rng.normal(size=out.data.shape), [rng.normal(size=f.shape) for f in finals]
    result = ours.backward(out._replace(data=d_out), *d_finals)  # d output as a PackedSequence
    loss = (t_out.data * torch.tensor(d_out)).sum() + sum((f * torch.tensor(d)).sum()
                                                          for f, d in zip(t_finals, d_finals, strict=True))
    loss.backward()
    d_x = result[0] if with_hx else result
    t_d_x = R.pack_padded_sequence(t_x.grad, torch.tensor(LENGTHS), batch_first, enforce_sorted=False).data
    pairs = [(out.data, t_out.data), *zip(finals, t_finals, strict=True), (d_x.data, t_d_x)]
    if with_hx:
        pairs += zip(result[1] if is_lstm else (result[1],), (s.grad for s in t_states), strict=True)
    t_params = dict(theirs.named_parameters())
    pairs += [(p.grad, t_params[name].grad) for name, p in ours.named_parameters()]
    worst = max(np.abs(a - b.detach().numpy()).max() for a, b in pairs)
    assert worst < 1e-10, worst


def test_packed_backward_takes_the_data_array_too():
    ours = GRU(3, 4, dtype=np.float64, seed=0)
    packed = pack_sequence([np.ones((4, 3)), np.ones((2, 3))])
    out, _ = ours(packed)
    a = ours.backward(out)  # a PackedSequence ...
    ours(packed)
    b = ours.backward(out.data)  # ... or its data
    np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(RnnlabError, match="d_output must be packed like the output"):
        ours(packed)
        ours.backward(out.data[:-1])


def test_packed_input_refuses_a_mask_and_a_wrong_width():
    ours = LSTM(3, 4)
    packed = pack_sequence([np.ones((4, 3)), np.ones((2, 3))])
    with pytest.raises(RnnlabError, match="mask must be None"):
        ours(packed, mask=np.ones((4, 2), bool))
    with pytest.raises(RnnlabError, match="input.size\\(-1\\) must be equal to input_size. Expected 3, got 5"):
        ours(pack_sequence([np.ones((4, 5))]))


def test_pytorch_snippet_runs_with_only_the_imports_changed():
    """PyTorch's packing recipe (pad, pack, bidirectional LSTM with projections, unpack), imports swapped for
    rnnlab's (issue 15, acceptance 3)."""
    snippet = """
batch = pad_sequence([seq_a, seq_b, seq_c], batch_first=True)          # (B, T, 8)
lengths = [len(seq_a), len(seq_b), len(seq_c)]
lstm = nn.LSTM(input_size=8, hidden_size=16, num_layers=2, batch_first=True, bidirectional=True, proj_size=6)
packed = pack_padded_sequence(batch, lengths, batch_first=True, enforce_sorted=False)
packed_out, (h_n, c_n) = lstm(packed)
out, out_lengths = pad_packed_sequence(packed_out, batch_first=True)
"""
    rng = np.random.default_rng(0)
    seqs = {f"seq_{k}": rng.normal(size=(n, 8)).astype(np.float32) for k, n in zip("abc", (5, 7, 2), strict=True)}
    results = {}
    for imports in ["import torch.nn as nn\nfrom torch.nn.utils.rnn import pack_padded_sequence, "
                    "pad_packed_sequence, pad_sequence",
                    "import rnnlab.nn as nn\nfrom rnnlab.nn.utils.rnn import pack_padded_sequence, "
                    "pad_packed_sequence, pad_sequence"]:
        scope = {k: (torch.from_numpy(v) if "torch" in imports else v) for k, v in seqs.items()}
        exec(imports + snippet, scope)  # noqa: S102 - the snippet is this test's own text
        results[imports.split()[1]] = scope
    ours, theirs = results["rnnlab.nn"], results["torch.nn"]
    assert ours["out"].shape == tuple(theirs["out"].shape) == (3, 7, 12)
    assert ours["h_n"].shape == tuple(theirs["h_n"].shape) == (4, 3, 6)
    assert ours["c_n"].shape == tuple(theirs["c_n"].shape) == (4, 3, 16)
    assert ours["out_lengths"].tolist() == theirs["out_lengths"].tolist() == [5, 7, 2]
    theirs["lstm"].load_state_dict({k: torch.from_numpy(v) for k, v in ours["lstm"].state_dict().items()})
    t_out, (t_h_n, t_c_n) = theirs["lstm"](theirs["packed"])
    np.testing.assert_allclose(ours["out"], R.pad_packed_sequence(t_out, batch_first=True)[0].detach(), atol=1e-5)
    np.testing.assert_allclose(ours["h_n"], t_h_n.detach(), atol=1e-5)
    np.testing.assert_allclose(ours["c_n"], t_c_n.detach(), atol=1e-5)
