"""PyTorch's cell tests (test/test_nn.py) and packed-sequence tests (test/nn/test_packed_sequence.py), replayed."""

import itertools

import numpy as np
import pytest

from rnnlab.errors import RnnlabError

from ._common import cell_backward, close, nn, param_grads_close, t, torch, torch_twin

rnn_utils = pytest.importorskip("rnnlab.nn.utils.rnn")
t_utils = torch.nn.utils.rnn


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("module", ["RNNCell", "GRUCell"])
def test_RNN_cell(module, bias):
    """test_RNN_cell: cell(10, 20) stepped 6 times on a (3, 10) input from hx (3, 20), then hx.sum() backward;
    here every value and gradient (accumulated over the 6 steps) against torch."""
    cell = getattr(nn, module)(10, 20, bias=bias, dtype=np.float64, seed=0)
    theirs = torch_twin(cell)
    rng = np.random.default_rng(0)
    x, hx0 = rng.normal(size=(3, 10)), rng.normal(size=(3, 20))
    t_x, t_hx0 = t(x, True), t(hx0, True)
    hx, t_hx = hx0, t_hx0
    for _ in range(6):
        hx, t_hx = cell(x, hx), theirs(t_x, t_hx)
    close(hx, t_hx, what="hx after 6 steps")
    t_hx.sum().backward()
    d_h, d_x = np.ones_like(hx), 0
    for _ in range(6):
        d_x_step, d_h = cell_backward(cell, d_h)
        d_x = d_x + d_x_step
    close(d_x, t_x.grad, what="d input")
    close(d_h, t_hx0.grad, what="d hx")
    param_grads_close(cell, theirs)


@pytest.mark.parametrize("bias", [True, False])
def test_LSTM_cell(bias):
    """test_LSTM_cell: LSTMCell(10, 20) stepped 6 times, then (hx + cx).sum() backward; against torch."""
    cell = nn.LSTMCell(10, 20, bias=bias, dtype=np.float64, seed=0)
    theirs = torch_twin(cell)
    rng = np.random.default_rng(0)
    x, h0, c0 = rng.normal(size=(3, 10)), rng.normal(size=(3, 20)), rng.normal(size=(3, 20))
    t_x, t_h0, t_c0 = t(x, True), t(h0, True), t(c0, True)
    (hx, cx), (t_hx, t_cx) = (h0, c0), (t_h0, t_c0)
    for _ in range(6):
        (hx, cx), (t_hx, t_cx) = cell(x, (hx, cx)), theirs(t_x, (t_hx, t_cx))
    close((hx, cx), (t_hx, t_cx), what="state after 6 steps")
    (t_hx + t_cx).sum().backward()
    d_h, d_c, d_x = np.ones_like(hx), np.ones_like(cx), 0
    for _ in range(6):
        d_x_step, (d_h, d_c) = cell_backward(cell, d_h, d_c)
        d_x = d_x + d_x_step
    close(d_x, t_x.grad, what="d input")
    close((d_h, d_c), (t_h0.grad, t_c0.grad), what="d (h0, c0)")
    param_grads_close(cell, theirs)


def test_LSTM_cell_forward_input_size():
    """test_LSTM_cell_forward_input_size: a (3, 11) input to LSTMCell(10, 20) is refused."""
    with pytest.raises(RnnlabError):
        nn.LSTMCell(10, 20)(np.zeros((3, 11)), (np.zeros((3, 20)), np.zeros((3, 20))))


@pytest.mark.parametrize("order", ["h_bad", "c_bad"])
def test_LSTM_cell_forward_hidden_size(order):
    """test_LSTM_cell_forward_hidden_size: a state of size 21 in either place of (hx, cx) is refused."""
    good, bad = np.zeros((3, 20)), np.zeros((3, 21))
    with pytest.raises(RnnlabError):
        nn.LSTMCell(10, 20)(np.zeros((3, 10)), (bad, good) if order == "h_bad" else (good, bad))


NO_BROADCASTING = {"hidden batch 1": ((3, 10), (1, 20)), "hidden size 1": ((3, 10), (3, 1)),
                   "input size 1": ((3, 1), (3, 20))}


@pytest.mark.parametrize("which", ["RNNCell", "GRUCell", "LSTMCell-h", "LSTMCell-c"])
@pytest.mark.parametrize("scenario", NO_BROADCASTING)
def test_RNN_cell_no_broadcasting(scenario, which):
    """test_RNN_cell_no_broadcasting: a batch of 1 or a size of 1 in hx or the input is refused, not broadcast."""
    x_shape, h_shape = NO_BROADCASTING[scenario]
    x, bad, good = np.zeros(x_shape), np.zeros(h_shape), np.zeros((3, 20))
    cell = getattr(nn, which.split("-")[0])(10, 20)
    hx = bad if which in ("RNNCell", "GRUCell") else (bad, good) if which == "LSTMCell-h" else (good, bad)
    with pytest.raises(RnnlabError):
        cell(x, hx)


@pytest.mark.parametrize("i", [0, 1], ids=["h", "c"])
def test_lstmcell_backward_only_one_output_grad(i):
    """test_lstmcell_backward_only_one_output_grad: a loss on h alone, or on c alone, still reaches the input."""
    cell = nn.LSTMCell(2, 3, dtype=np.float64, seed=0)
    s = np.random.default_rng(0).normal(size=(1, 2))
    out = cell(s)
    grads = [np.zeros_like(out[0]), np.zeros_like(out[1])]
    grads[i] = np.ones_like(out[i])
    d_x = cell.backward(*grads)[0]
    assert np.abs(d_x).sum() != 0


# test/nn/test_packed_sequence.py


def test_wrong_order():
    """test_wrong_order: lengths [22, 25] with enforce_sorted=True are refused."""
    b_a = rnn_utils.pad_sequence([np.ones((22, 300)), np.ones((25, 300))])
    with pytest.raises(RnnlabError, match="enforce_sorted=False"):
        rnn_utils.pack_padded_sequence(b_a, [22, 25], enforce_sorted=True)


def test_pad_sequence_with_tensor_sequences():
    """test_pad_sequence_with_tensor_sequences: a tuple of arrays and one stacked array pad alike, to (1, 2, 2)."""
    seq_tuple_input = rnn_utils.pad_sequence((np.array([[7, 6]]), np.array([[-7, -1]])))
    seq_tensor_input = rnn_utils.pad_sequence(np.array([[[7, 6]], [[-7, -1]]]))
    np.testing.assert_array_equal(seq_tuple_input, seq_tensor_input)
    assert seq_tuple_input.shape == (1, 2, 2)


def test_pad_sequence_with_non_iterable_sequences():
    """test_pad_sequence_with_non_iterable_sequences: pad_sequence(5) is refused, "Expected iterable ..."."""
    with pytest.raises(RnnlabError, match="Expected iterable for input sequences, but got arg of type"):
        rnn_utils.pad_sequence(5)


def padded_sequence(rng, batch_size=5, max_length=6):
    seqs = [rng.integers(-128, 128, size=rng.integers(1, max_length + 1)).astype(np.float32)
            for _ in range(batch_size)]
    ordered = sorted(seqs, key=len, reverse=True)
    return rnn_utils.pad_sequence(ordered), [len(s) for s in ordered]


@pytest.mark.parametrize("batch_first", [True, False])
def test_total_length(batch_first):
    """test_total_length: total_length below the longest length is refused; at or above it, pads with zeros."""
    padded, lengths = padded_sequence(np.random.default_rng(0))
    max_length = max(lengths)
    packed = rnn_utils.pack_padded_sequence(padded, lengths)
    for total_length in (-1, 0, max_length - 1):
        with pytest.raises(RnnlabError, match="Expected total_length to be at least the length of the longest"):
            rnn_utils.pad_packed_sequence(packed, batch_first=batch_first, total_length=total_length)
    no_extra_pad, _ = rnn_utils.pad_packed_sequence(packed, batch_first=batch_first)
    for delta in (0, 1, 8):
        unpacked, lengths_out = rnn_utils.pad_packed_sequence(packed, batch_first=batch_first,
                                                              total_length=max_length + delta)
        assert list(lengths_out) == lengths
        assert unpacked.shape[1 if batch_first else 0] == max_length + delta
        pad = np.zeros((5, delta) if batch_first else (delta, 5))
        np.testing.assert_array_equal(unpacked, np.concatenate([no_extra_pad, pad], 1 if batch_first else 0))


def test_pad_sequence():
    """test_pad_sequence, single dimensional: batch_first both ways, a padding value, sorted input."""
    a, b, c = np.array([1, 2, 3]), np.array([4, 5]), np.array([6])
    expected = np.array([[4, 5, 0], [1, 2, 3], [6, 0, 0]])
    np.testing.assert_array_equal(rnn_utils.pad_sequence([b, a, c], True), expected)
    np.testing.assert_array_equal(rnn_utils.pad_sequence([b, a, c]), expected.T)
    np.testing.assert_array_equal(rnn_utils.pad_sequence([b, a, c], True, 1),
                                  np.array([[4, 5, 1], [1, 2, 3], [6, 1, 1]]))
    np.testing.assert_array_equal(rnn_utils.pad_sequence([a, b, c], True), np.array([[1, 2, 3], [4, 5, 0], [6, 0, 0]]))


def shuffled_sequences(num_dim, rng, maxlen=9, descending=False):
    lengths = range(maxlen, 0, -1) if descending else range(1, maxlen + 1)
    sequences = [rng.random((i * i, 5, *[4] * num_dim)) for i in lengths]
    return sequences


@pytest.mark.parametrize("num_dim", [0, 1, 2, 3])
def test_pad_sequence_more_dimensions(num_dim):
    """test_pad_sequence, more dimensions: shuffled (i*i, 5, 4...) sequences pad to the longest; equal to torch."""
    rng = np.random.default_rng(num_dim)
    sequences = shuffled_sequences(num_dim, rng)
    rng.shuffle(sequences)
    for batch_first in (True, False):
        close(rnn_utils.pad_sequence(sequences, batch_first),
              t_utils.pad_sequence([t(s) for s in sequences], batch_first), atol=0)


def test_pack_sequence():
    """test_pack_sequence, single dimensional: batch_sizes, data, sorted/unsorted indices; unsorted with
    enforce_sorted=True is refused ("must be sorted in decreasing order", "You can pass `enforce_sorted=False`")."""
    a, b, c = np.array([1, 2, 3]), np.array([4, 5]), np.array([6])
    packed = rnn_utils.pack_sequence([a, b, c], enforce_sorted=False)
    expected = np.array([1, 4, 6, 2, 5, 3])
    assert list(packed.batch_sizes) == [3, 2, 1]
    np.testing.assert_array_equal(packed.data, expected)
    assert list(packed.sorted_indices) == [0, 1, 2] and list(packed.unsorted_indices) == [0, 1, 2]
    packed_unsorted = rnn_utils.pack_sequence([b, c, a], enforce_sorted=False)
    assert list(packed_unsorted.batch_sizes) == [3, 2, 1]
    np.testing.assert_array_equal(packed_unsorted.data, expected)
    assert list(packed_unsorted.sorted_indices) == [2, 0, 1] and list(packed_unsorted.unsorted_indices) == [1, 2, 0]
    packed_enforce_sorted = rnn_utils.pack_sequence([a, b, c], enforce_sorted=True)
    assert list(packed_enforce_sorted.batch_sizes) == [3, 2, 1]
    np.testing.assert_array_equal(packed_enforce_sorted.data, expected)
    assert packed_enforce_sorted.sorted_indices is None and packed_enforce_sorted.unsorted_indices is None
    with pytest.raises(RnnlabError, match="must be sorted in decreasing order"):
        rnn_utils.pack_sequence([b, c, a], enforce_sorted=True)
    with pytest.raises(RnnlabError, match="You can pass `enforce_sorted=False`"):
        rnn_utils.pack_sequence([b, c, a], enforce_sorted=True)


@pytest.mark.parametrize("num_dim", [0, 1, 2, 3])
def test_pack_sequence_compatibility(num_dim):
    """test_pack_sequence, more dimensions (_compatibility_test): pack_sequence then pad_packed_sequence equals
    pad_sequence, and equals pack_padded_sequence of the padded batch; sorted and shuffled."""
    rng = np.random.default_rng(num_dim)
    sequences = shuffled_sequences(num_dim, rng, descending=True)
    unsorted = [s.copy() for s in sequences]
    rng.shuffle(unsorted)
    runs = [(sequences, bf, es) for bf, es in itertools.product((True, False), repeat=2)]
    runs += [(unsorted, bf, False) for bf in (True, False)]
    for seqs, batch_first, enforce_sorted in runs:
        lengths = [len(s) for s in seqs]
        padded = rnn_utils.pad_sequence(seqs, batch_first)
        packed = rnn_utils.pack_sequence(seqs, enforce_sorted)
        np.testing.assert_array_equal(rnn_utils.pad_packed_sequence(packed, batch_first)[0], padded)
        pack_padded = rnn_utils.pack_padded_sequence(padded, lengths, batch_first, enforce_sorted)
        for a, b in zip(packed, pack_padded, strict=True):
            assert (a is None and b is None) or np.array_equal(a, b)


def test_unpack_sequence():
    """test_unpack_sequence: unpack_sequence(pack_sequence(seqs, enforce_sorted=False)) gives seqs back."""
    rng = np.random.default_rng(0)
    for sequences in ([np.array([1, 2, 3]), np.array([4, 5]), np.array([6])],
                      *(shuffled_sequences(d, rng) for d in range(4))):
        unpacked = rnn_utils.unpack_sequence(rnn_utils.pack_sequence(sequences, enforce_sorted=False))
        assert len(unpacked) == len(sequences)
        for a, b in zip(unpacked, sequences, strict=True):
            np.testing.assert_array_equal(a, b)


PACK_CASES = [([10, 8, 4, 2, 2, 2, 1], False), ([11, 10, 8, 6, 4, 3, 1], False), ([11, 10, 8, 6, 4, 3, 1], True)]


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("sorted_lengths, should_shuffle", PACK_CASES)
def test_pack_padded_sequence(sorted_lengths, should_shuffle, batch_first):
    """test_pack_padded_sequence: data, batch_sizes and unsorted_indices as PyTorch's generate_test_case expects,
    pad_packed_sequence inverts it (values and lengths); here also against torch's own packing."""
    max_length = sorted_lengths[0]
    batch_sizes = [sum(1 for x in sorted_lengths if x >= i) for i in range(1, max_length + 1)]
    columns = []
    for i, length in enumerate(sorted_lengths, 1):
        seq = i * 100 + np.arange(1.0, 5 * length + 1).reshape(length, 1, 5)
        columns.append(np.concatenate([seq, np.zeros((max_length - length, 1, 5))]))
    padded = np.concatenate(columns, 1)
    expected = np.stack([np.arange(1.0, 6) + (i + 1) * 100 + 5 * step
                         for step, size in enumerate(batch_sizes) for i in range(size)])
    lengths, unsorted_indices = sorted_lengths, None
    if should_shuffle:
        unsorted_indices = np.random.default_rng(0).permutation(len(sorted_lengths))
        padded = padded[:, unsorted_indices]
        lengths = list(np.array(sorted_lengths)[unsorted_indices])
    src = padded.transpose(1, 0, 2) if batch_first else padded
    packed = rnn_utils.pack_padded_sequence(src, lengths, batch_first=batch_first, enforce_sorted=not should_shuffle)
    np.testing.assert_array_equal(packed.data, expected)
    assert list(packed.batch_sizes) == batch_sizes
    if unsorted_indices is None:
        assert packed.unsorted_indices is None
    else:
        np.testing.assert_array_equal(packed.unsorted_indices, unsorted_indices)
    t_packed = t_utils.pack_padded_sequence(t(src), lengths, batch_first=batch_first, enforce_sorted=not should_shuffle)
    for a, b in zip(packed, t_packed, strict=True):
        assert (a is None and b is None) or np.array_equal(a, b.numpy())
    unpacked, unpacked_len = rnn_utils.pad_packed_sequence(packed, batch_first=batch_first)
    np.testing.assert_array_equal(unpacked, src)
    assert list(unpacked_len) == list(lengths)


@pytest.mark.parametrize("args", [((3, 3), [1, 3, 2], "You can pass `enforce_sorted=False`"),
                                  ((0, 0), [], "empty tensor")], ids=["unsorted", "empty"])
def test_pack_padded_sequence_error_messages(args):
    """test_pack_padded_sequence, error messages: unsorted lengths, and an empty input ("empty tensor")."""
    shape, lengths, message = args
    with pytest.raises(RnnlabError, match=message):
        rnn_utils.pack_padded_sequence(np.zeros(shape), lengths)


VARIABLE = [(True, [5]), (False, [5]), (True, [10, 10, 6, 2, 2, 1, 1]), (False, [10, 10, 6, 2, 2, 1, 1]),
            (False, [2, 1, 3, 2, 10, 5, 3])]


@pytest.mark.parametrize("proj_size", [0, 2])
@pytest.mark.parametrize("use_default_hiddens", [True, False])
@pytest.mark.parametrize("enforce_sorted, lengths", VARIABLE)
def test_variable_sequence(enforce_sorted, lengths, use_default_hiddens, proj_size):
    """test_variable_sequence (test_nn.py): a packed bidirectional 2-layer LSTM (proj_size 0 or 2) equals running
    each sequence alone: outputs, final states, d input and every parameter gradient."""
    I, H, L, D = 3, 4, 2, 2
    rng = np.random.default_rng(len(lengths) + 7 * proj_size)
    max_length = max(lengths)
    x = rng.normal(size=(max_length, len(lengths), I))
    lstm = nn.LSTM(I, H, num_layers=L, bidirectional=True, proj_size=proj_size, dtype=np.float64, seed=0)
    lstm2 = nn.LSTM(I, H, num_layers=L, bidirectional=True, proj_size=proj_size, dtype=np.float64, seed=0)
    h_size = proj_size or H
    hidden0 = None if use_default_hiddens else (rng.normal(size=(D * L, len(lengths), h_size)),
                                                rng.normal(size=(D * L, len(lengths), H)))
    seq_out = np.zeros((max_length, len(lengths), D * h_size))
    seq_h, seq_c, grad_x = np.zeros((D * L, len(lengths), h_size)), np.zeros((D * L, len(lengths), H)), np.zeros_like(x)
    for i, length in enumerate(lengths):
        hidden_i = None if hidden0 is None else (hidden0[0][:, i:i + 1], hidden0[1][:, i:i + 1])
        out, (h, c) = lstm2(x[:length, i:i + 1], hidden_i)
        seq_out[:length, i:i + 1], seq_h[:, i:i + 1], seq_c[:, i:i + 1] = out, h, c
        d = lstm2.backward(np.ones_like(out))
        grad_x[:length, i:i + 1] = d if hidden0 is None else d[0]
    packed = rnn_utils.pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
    packed_out, packed_hidden = lstm(packed, hidden0)
    unpacked, unpacked_len = rnn_utils.pad_packed_sequence(packed_out)
    close(packed_hidden, (seq_h, seq_c), atol=1e-12, what="final states")
    close(unpacked, seq_out, atol=1e-12, what="output")
    assert list(unpacked_len) == list(lengths)
    d_out = np.ones_like(packed_out.data)  # unpacked.sum(): every real step's output has gradient 1
    result = lstm.backward(d_out)
    d_packed = result if hidden0 is None else result[0]
    d_packed = rnn_utils.PackedSequence(getattr(d_packed, "data", d_packed), packed.batch_sizes,
                                        packed.sorted_indices, packed.unsorted_indices)
    close(rnn_utils.pad_packed_sequence(d_packed, total_length=max_length)[0], grad_x, atol=1e-12, what="d x")
    for (name, p1), (_, p2) in zip(lstm.named_parameters(), lstm2.named_parameters(), strict=True):
        close(p1.grad, p2.grad, atol=1e-12, what=f"d {name}")
