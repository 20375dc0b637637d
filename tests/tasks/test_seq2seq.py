"""The Seq2Seq task (issue 16): fit / predict / evaluate / save / load, references, unknown tokens, bad input."""

import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.tasks.seq2seq import Seq2Seq
from rnnlab.tasks.seq2seq_search import Hypothesis

TINY = dict(hidden_size=32, embedding_dim=16, batch_size=16, epochs=30, patience=None, minutes=None, dropout=0.0,
            label_smoothing=0.0, lr=1e-2)


def reversal(count: int, seed: int) -> tuple[list[str], list[str]]:
    """Strings of 1-4 letters of "abcd" and their reverse."""
    rng = np.random.default_rng(seed)
    words = ["".join(rng.choice(list("abcd"), rng.integers(1, 5))) for _ in range(count)]
    return words, [w[::-1] for w in words]


@pytest.fixture(scope="module")
def trained() -> Seq2Seq:
    sources, targets = reversal(400, 0)
    return Seq2Seq(**TINY).fit(sources, targets, progress=False)


def test_it_learns_to_reverse_and_scores_held_out_strings(trained):
    sources, targets = reversal(200, 1)
    scores = trained.evaluate(sources, targets)
    assert scores["exact_match"] > 0.9, scores  # the task is easy; an untrained model gets ~0
    assert scores["sequences"] == len(set(sources))  # each distinct source once
    assert trained.score(sources, targets) == scores["exact_match"]
    assert trained.history_ and trained.best_val_exact_match_ == max(h["val_exact_match"] for h in trained.history_)
    assert {"bleu", "chrf"}.isdisjoint(scores)  # character targets: no word-level scores


def test_batched_and_one_at_a_time_decoding_agree(trained):
    sources = reversal(60, 2)[0]
    for beam in (1, 4):
        together = trained.predict(sources, beam=beam)
        assert together == [trained.predict([s], beam=beam)[0] for s in sources]


def test_a_prediction_is_right_when_it_equals_any_reference(trained):
    right = trained.predict(["abc"])[0]
    scores = trained.evaluate(["abc", "abc"], ["zzz", right])
    assert scores["sequences"] == 1 and scores["exact_match"] == 1.0 and scores["token_error_rate"] == 0.0


def test_unknown_source_tokens_read_as_unk_and_the_model_still_answers(trained):
    (decoded,) = trained.decode(["axb"])
    assert decoded.source == ["a", "x", "b"] and decoded.weights.shape[1] == 3
    assert isinstance(trained.predict(["xyz"])[0], str)


def test_word_level_unknown_outputs_copy_the_source_word_attended_to_most():
    model = Seq2Seq(source_tokens="word", target_tokens="word")
    weights = np.array([[0.1, 0.9], [0.8, 0.2]])
    assert model._replace_unknown(["<unk>", "<unk>"], ["Paris", "Lyon"], weights) == ["Lyon", "Paris"]
    assert Seq2Seq()._replace_unknown(["<unk>"], ["a"], weights) == ["<unk>"]  # characters: kept as they are


def test_save_load_round_trip_gives_the_same_predictions(trained, tmp_path):
    trained.save(tmp_path, "best")
    loaded = Seq2Seq.load(tmp_path)
    sources = reversal(30, 3)[0]
    assert loaded.predict(sources, beam=3) == trained.predict(sources, beam=3)
    assert loaded.get_params() == trained.get_params()


def test_validation_holds_out_whole_sources():
    sources = ["ab", "ab", "cd", "cd", "ef", "gh"] * 3
    targets = ["x", "y", "z", "w", "v", "u"] * 3
    model = Seq2Seq(**(TINY | {"epochs": 1}), val_fraction=0.5).fit(sources, targets, progress=False)
    held = set(model.val_sources_)
    assert held and held < set(sources)
    assert len(held) == 2


def test_settings_are_scikit_learn_parameters():
    from sklearn.base import clone

    model = Seq2Seq(hidden_size=64)
    assert clone(model).get_params()["hidden_size"] == 64


@pytest.mark.parametrize("bad,fragment", [
    (dict(hidden_size=7), "hidden_size"),
    (dict(attention="cosine"), "attention"),
    (dict(source_tokens="bytes"), "source_tokens"),
    (dict(label_smoothing=1.0), "label_smoothing"),
    (dict(sampling_rate=-0.1), "sampling_rate"),
])
def test_bad_settings_are_refused_where_they_enter(bad, fragment):
    with pytest.raises(RnnlabError, match=fragment):
        Seq2Seq(**bad)


def test_bad_data_and_search_arguments_are_refused(trained):
    with pytest.raises(RnnlabError, match="2 sources but 1 targets"):
        Seq2Seq().fit(["a", "b"], ["x"])
    with pytest.raises(RnnlabError, match="item 1"):
        Seq2Seq().fit(["a", " "], ["x", "y"])
    with pytest.raises(RnnlabError, match="distinct sources"):
        Seq2Seq().fit(["a", "a"], ["x", "y"])
    with pytest.raises(RnnlabError, match="beam"):
        trained.predict(["ab"], beam=0)
    with pytest.raises(RnnlabError, match="length_penalty"):
        trained.predict(["ab"], length_penalty=-1)
    with pytest.raises(RnnlabError, match="not fitted"):
        Seq2Seq().predict(["ab"])


def test_hypothesis_weights_cover_the_output_and_the_end(trained):
    (decoded,) = trained.decode(["abcd"], beam=2)
    assert isinstance(decoded.score, float) and decoded.output == list(trained.predict(["abcd"], beam=2)[0])
    assert decoded.weights.shape == (len(decoded.output) + 1, 4)
    assert Hypothesis  # (the search's result type, re-exported by `decode` as Decoded)
