import numpy as np
import pytest

from rnnlab.data.batching import lengths_to_mask, pad_sequences
from rnnlab.errors import RnnlabError


def test_pad_sequences_post_pads_at_the_end_and_masks_real_steps():
    padded, mask = pad_sequences([[1, 2, 3], [4], [5, 6]])
    assert padded.tolist() == [[1, 2, 3], [4, 0, 0], [5, 6, 0]]
    assert mask.tolist() == [[True, True, True], [True, False, False], [True, True, False]]
    assert mask.dtype == bool


def test_pad_sequences_pre_pads_at_the_start():
    padded, mask = pad_sequences([[1, 2, 3], [4]], side="pre", value=-1)
    assert padded.tolist() == [[1, 2, 3], [-1, -1, 4]]
    assert mask.tolist() == [[True, True, True], [False, False, True]]


def test_pad_sequences_truncation_keeps_first_steps_for_post_and_last_for_pre():
    seqs = [[1, 2, 3, 4], [5, 6]]
    post, post_mask = pad_sequences(seqs, side="post", maxlen=3)
    pre, pre_mask = pad_sequences(seqs, side="pre", maxlen=3)
    assert post.tolist() == [[1, 2, 3], [5, 6, 0]]
    assert pre.tolist() == [[2, 3, 4], [0, 5, 6]]
    assert post_mask.tolist() == [[True, True, True], [True, True, False]]
    assert pre_mask.tolist() == [[True, True, True], [False, True, True]]


def test_pad_sequences_maxlen_longer_than_every_sequence_sets_the_width():
    padded, mask = pad_sequences([[1], [2, 3]], maxlen=4)
    assert padded.shape == mask.shape == (2, 4)
    assert mask.sum(axis=1).tolist() == [1, 2]


def test_pad_sequences_keeps_feature_dimensions_batch_first():
    seqs = [np.full((5, 3), 1.5, dtype=np.float32), np.full((2, 3), 2.5, dtype=np.float32)]
    padded, mask = pad_sequences(seqs, value=np.nan)
    assert padded.shape == (2, 5, 3) and padded.dtype == np.float32
    assert np.isnan(padded[1, 2:]).all() and (padded[1, :2] == 2.5).all()
    assert mask.shape == (2, 5)
    np.testing.assert_array_equal(mask, lengths_to_mask([5, 2]))


def test_pad_sequences_promotes_dtypes_and_honours_an_explicit_dtype():
    assert pad_sequences([np.array([1], np.uint8), np.array([2], np.int16)])[0].dtype == np.int16
    assert pad_sequences([[1, 2], [0.5]])[0].dtype == np.float64
    assert pad_sequences([np.array([1, 2], np.uint8), []])[0].dtype == np.uint8  # empty list adds no float
    assert pad_sequences([[1, 2]], dtype=np.float32)[0].dtype == np.float32


def test_pad_sequences_handles_empty_sequences():
    padded, mask = pad_sequences([np.zeros((0, 2)), np.ones((1, 2))], side="pre")
    assert padded.shape == (2, 1, 2)
    assert mask.tolist() == [[False], [True]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"side": "left"}, "argument `side`, expected one of .*got 'left'"),
        ({"maxlen": 0}, "argument `maxlen`, expected a positive integer or None, got 0"),
        ({"maxlen": 2.5}, "argument `maxlen`.*got 2.5"),
        ({"value": np.nan}, "padding value nan cannot be stored as int64"),
        ({"value": 0.5}, "padding value 0.5 cannot be stored exactly as int64"),
        ({"value": 256, "dtype": np.uint8}, "padding value 256 cannot be stored as uint8"),
        ({"dtype": "no-such-type"}, "argument `dtype`"),
    ],
)
def test_pad_sequences_refuses_bad_arguments_naming_them(kwargs, message):
    with pytest.raises(RnnlabError, match=message):
        pad_sequences([[1, 2], [3]], **kwargs)


def test_pad_sequences_refuses_no_sequences_scalars_and_mismatched_step_shapes():
    with pytest.raises(RnnlabError, match="at least one sequence"):
        pad_sequences([])
    with pytest.raises(RnnlabError, match="sequence 1 is a scalar"):
        pad_sequences([[1], 2])
    with pytest.raises(RnnlabError, match=r"sequence 1 has step shape \(4,\), expected \(3,\)"):
        pad_sequences([np.zeros((2, 3)), np.zeros((2, 4))])


def test_lengths_to_mask_marks_the_first_length_steps():
    mask = lengths_to_mask(np.array([2, 0, 3]))
    assert mask.dtype == bool and mask.shape == (3, 3)
    assert mask.tolist() == [[True, True, False], [False, False, False], [True, True, True]]
    assert lengths_to_mask([1], max_len=3).tolist() == [[True, False, False]]
    assert lengths_to_mask([]).shape == (0, 0)


def test_lengths_to_mask_matches_post_padding_mask():
    seqs = [np.arange(n) for n in (4, 1, 3, 0)]
    _, mask = pad_sequences(seqs, maxlen=5)
    np.testing.assert_array_equal(lengths_to_mask([len(s) for s in seqs], max_len=5), mask)


def test_lengths_to_mask_refuses_negative_float_or_too_long_lengths():
    with pytest.raises(RnnlabError, match="non-negative, got -1"):
        lengths_to_mask([2, -1])
    with pytest.raises(RnnlabError, match="1-D sequence of integers"):
        lengths_to_mask([1.5, 2.0])
    with pytest.raises(RnnlabError, match="1-D sequence of integers"):
        lengths_to_mask([[1, 2]])
    with pytest.raises(RnnlabError, match="argument `max_len`.*longest length 3, got 2"):
        lengths_to_mask([3, 1], max_len=2)
