import math

import numpy as np
import pytest

from rnnlab.data.conllu import read_conllu
from rnnlab.errors import RnnlabError
from rnnlab.nn import CrossEntropyLoss
from rnnlab.tasks.tag import SequenceTagger, TagConfig, tokenize
from rnnlab.tasks.tag_net import TaggerNet, TaggerNetConfig

# A toy language where the tag shows in the word's ending, so unseen words are taggable from their characters.
NOUNS = ["nation", "station", "motion", "lotion", "ration", "potion", "fiction", "action", "option", "caution"]
VERBS = ["realize", "organize", "memorize", "finalize", "idealize", "localize", "utilize", "normalize"]
HELD_OUT_NOUNS = ["portion", "mention", "notion"]
HELD_OUT_VERBS = ["stabilize", "mobilize", "vocalize"]


def toy_corpus(nouns, verbs, count, seed):
    rng = np.random.default_rng(seed)
    sentences, tags = [], []
    for _ in range(count):
        noun, verb, other = rng.choice(nouns), rng.choice(verbs), rng.choice(nouns)
        if rng.random() < 0.5:
            sentences.append(["the", noun, verb, "a", other, "."])
            tags.append(["DET", "NOUN", "VERB", "DET", "NOUN", "PUNCT"])
        else:
            sentences.append(["we", verb, "the", noun, "."])
            tags.append(["PRON", "VERB", "DET", "NOUN", "PUNCT"])
    return sentences, tags


SMALL = dict(word_dim=16, char_dim=8, char_hidden=16, shape_dim=4, hidden_size=24, dropout=0.2, batch_size=16,
             lr=1e-2, epochs=12, patience=12, minutes=None)


@pytest.fixture(scope="module")
def toy_tagger():
    sentences, tags = toy_corpus(NOUNS, VERBS, 200, seed=0)
    return SequenceTagger(**SMALL).fit(sentences, tags, progress=False, info={"column": "upos"})


def test_tokenize_splits_punctuation_and_clitics_off_words():
    assert tokenize("I eat apples.") == ["I", "eat", "apples", "."]
    assert tokenize("We can't stop, she'll say!") == ["We", "ca", "n't", "stop", ",", "she", "'ll", "say", "!"]
    assert tokenize("   ") == []


def test_network_gradients_match_central_differences():
    config = TaggerNetConfig(num_words=6, num_chars=7, num_tags=3, word_dim=3, char_dim=2, char_hidden=2,
                             shape_dim=2, hidden_size=3, dropout=0.0)
    net = TaggerNet(config, dtype=np.float64, seed=1)
    batch = {"words": np.array([[2, 3], [4, 0], [5, 0]]), "shapes": np.array([[0, 1], [2, 0], [3, 0]]),
             "forms": np.array([[0, 1], [2, 0], [0, 0]]), "chars": np.array([[2, 3, 4], [5, 0, 0], [6, 2, 0]]),
             "char_mask": np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]], bool),
             "mask": np.array([[1, 1], [1, 0], [1, 0]], bool)}
    targets = np.array([[0, 2], [1, -1], [2, -1]])
    loss_fn = CrossEntropyLoss(ignore_index=-1)

    def loss() -> float:
        return loss_fn(net(batch), targets)

    net.zero_grad()
    loss()
    net.backward(loss_fn.backward())
    rng = np.random.default_rng(0)
    for name, p in net.named_parameters():
        for flat in rng.choice(p.data.size, size=min(4, p.data.size), replace=False):
            index = np.unravel_index(flat, p.data.shape)
            saved = p.data[index]
            p.data[index] = saved + 1e-6
            up = loss()
            p.data[index] = saved - 1e-6
            down = loss()
            p.data[index] = saved
            numeric = (up - down) / 2e-6
            assert abs(numeric - p.grad[index]) <= 1e-6 + 1e-5 * abs(numeric), (name, index)


def test_fit_tags_unseen_words_from_their_characters(toy_tagger):
    sentences, tags = toy_corpus(HELD_OUT_NOUNS, HELD_OUT_VERBS, 60, seed=1)
    scores = toy_tagger.evaluate(sentences, tags)
    assert scores["oov_tokens"] > 0
    assert scores["oov_accuracy"] >= 0.95
    assert scores["accuracy"] >= 0.95
    # the baseline gives every unseen word the one most frequent tag, so it must miss the nouns or the verbs
    assert scores["baselines"]["most_frequent_tag"]["oov_accuracy"] <= 0.6


def test_padding_does_not_change_predictions(toy_tagger):
    short = ["we", "realize", "the", "nation", "."]
    long = ["the", "station", "organize", "a", "lotion", ".", "the", "motion", "utilize", "a", "potion", "."]
    alone = toy_tagger.predict([short])[0]
    batched = toy_tagger.predict([long, short, long])[1]
    assert alone == batched == ["PRON", "VERB", "DET", "NOUN", "PUNCT"]


def test_save_and_load_give_the_same_predictions_and_scores(toy_tagger, tmp_path):
    sentences, tags = toy_corpus(NOUNS + HELD_OUT_NOUNS, VERBS + HELD_OUT_VERBS, 30, seed=2)
    toy_tagger.save(tmp_path / "run")
    loaded = SequenceTagger.load(tmp_path / "run")
    assert loaded.predict(sentences) == toy_tagger.predict(sentences)
    assert loaded.evaluate(sentences, tags) == toy_tagger.evaluate(sentences, tags)
    assert loaded.config == toy_tagger.config and loaded.info_ == {"column": "upos"}


def test_baseline_takes_each_words_most_frequent_tag_and_the_overall_one_for_unknown_words():
    sentences = [["run", "run", "run", "the"], ["the", "dog", "cat"]]
    tags = [["VERB", "VERB", "NOUN", "DET"], ["DET", "NOUN", "NOUN"]]  # NOUN is the most frequent tag overall
    tagger = SequenceTagger(**{**SMALL, "epochs": 1}).fit(sentences, tags, sentences, tags, progress=False)
    assert tagger.predict_baseline([["run", "the", "zebra"], ["dog"]]) == [["VERB", "DET", "NOUN"], ["NOUN"]]
    scores = tagger.evaluate([["run", "the", "zebra"]], [["VERB", "DET", "NOUN"]])
    assert scores["baselines"]["most_frequent_tag"]["accuracy"] == 1.0


def test_evaluate_counts_out_of_vocabulary_words_and_unknown_gold_tags_as_errors(toy_tagger):
    sentences = [["the", "nation", "zzyzx", "."]]
    scores = toy_tagger.evaluate(sentences, [["DET", "NOUN", "NEVER-SEEN-TAG", "PUNCT"]])
    assert scores["tokens"] == 4 and scores["oov_tokens"] == 1
    assert scores["accuracy"] <= 0.75 and scores["oov_accuracy"] == 0.0
    assert math.isnan(toy_tagger.evaluate([["the", "nation"]], [["DET", "NOUN"]])["oov_accuracy"])


def test_word_dropout_changes_training_but_prediction_is_not_random():
    sentences, tags = toy_corpus(NOUNS, VERBS, 20, seed=3)
    validation = toy_corpus(NOUNS, VERBS, 10, seed=4)
    options = {**SMALL, "epochs": 3, "lr_decay": 1.0}
    plain = SequenceTagger(**options, word_dropout=0.0).fit(sentences, tags, *validation, progress=False)
    dropped = SequenceTagger(**options, word_dropout=100.0).fit(sentences, tags, *validation, progress=False)
    assert [e["train_loss"] for e in plain.history_] != [e["train_loss"] for e in dropped.history_]
    test_sentences, _ = toy_corpus(NOUNS + HELD_OUT_NOUNS, VERBS + HELD_OUT_VERBS, 40, seed=5)
    first = dropped.predict(test_sentences)
    assert dropped.predict(test_sentences) == first
    assert [dropped.predict([words])[0] for words in test_sentences] == first


def test_bad_input_raises_one_line_errors():
    with pytest.raises(RnnlabError, match="sentence 1"):
        SequenceTagger(**SMALL).fit([["a", "b"], []], [["X", "Y"], []], progress=False)
    with pytest.raises(RnnlabError, match="2 words but 1 tags"):
        SequenceTagger(**SMALL).fit([["a", "b"]], [["X"]], progress=False)
    with pytest.raises(RnnlabError, match="hidden_size"):
        SequenceTagger(hidden_size=0)
    with pytest.raises(RnnlabError, match="hiden_size"):
        SequenceTagger(hiden_size=8)
    with pytest.raises(RnnlabError, match="not fitted"):
        SequenceTagger().predict([["hello"]])
    with pytest.raises(RnnlabError, match="dropout"):
        TagConfig(dropout=1.0)


def test_real_treebank_subset_beats_the_most_frequent_tag_baseline(data_dir):
    treebank = read_conllu(data_dir / "pos" / "en_ewt-ud-dev.conllu")
    train, test = treebank[:600], treebank[-300:]
    tagger = SequenceTagger(**{**SMALL, "hidden_size": 48, "lr": 5e-3, "epochs": 6, "batch_size": 32})
    tagger.fit([w for w, _ in train], [t for _, t in train], progress=False)
    scores = tagger.evaluate([w for w, _ in test], [t for _, t in test])
    assert scores["oov_accuracy"] > scores["baselines"]["most_frequent_tag"]["oov_accuracy"]
    assert scores["accuracy"] > 0.6


def test_learning_rate_halves_after_each_epoch_without_progress():
    sentences, tags = toy_corpus(NOUNS, VERBS, 60, seed=4)
    tagger = SequenceTagger(**{**SMALL, "lr_decay": 0.5, "decay_patience": 1, "epochs": 10})
    history = tagger.fit(sentences, tags, progress=False).history_
    best, expected = -1.0, SMALL["lr"]
    for metrics in history:
        assert metrics["lr"] == pytest.approx(expected)
        if metrics["val_accuracy"] > best:
            best = metrics["val_accuracy"]
        else:
            expected *= 0.5
    assert history[-1]["lr"] < SMALL["lr"]  # the toy task saturates, so some epochs make no progress


def test_scikit_learn_clone_copies_the_settings_and_set_params_changes_the_network():
    from sklearn.base import clone

    sentences, tags = toy_corpus(NOUNS, VERBS, 20, seed=6)
    tagger = SequenceTagger(**{**SMALL, "epochs": 1})
    copy = clone(tagger).set_params(hidden_size=5)
    assert copy.get_params() == {**tagger.get_params(), "hidden_size": 5}
    copy.fit(sentences, tags, progress=False)
    assert copy.model_.lstm.hidden_size == 5
    assert copy.score(sentences, tags) == copy.evaluate(sentences, tags)["accuracy"]
    with pytest.raises(RnnlabError, match="epochs"):
        tagger.set_params(epochs=0)


def test_resume_with_a_larger_budget_continues_the_step_count_and_the_history(tmp_path):
    sentences, tags = toy_corpus(NOUNS, VERBS, 40, seed=7)
    first = SequenceTagger(**{**SMALL, "epochs": 2}).fit(sentences, tags, run_dir=tmp_path / "run", progress=False)
    resumed = SequenceTagger.resume(tmp_path / "run", epochs=3)
    assert resumed.epochs == 3 and resumed.history_ == first.history_
    with pytest.raises(RnnlabError, match="only max_steps, epochs, minutes"):
        SequenceTagger.resume(tmp_path / "run", hidden_size=8)
    with pytest.raises(RnnlabError, match="data differ"):
        resumed.fit(sentences[1:], tags[1:], run_dir=tmp_path / "run", progress=False)
    resumed.fit(sentences, tags, run_dir=tmp_path / "run", progress=False)
    assert [e["step"] for e in resumed.history_] == [3, 6, 9]
    assert resumed.history_[:2] == first.history_


def test_a_run_that_stopped_early_resumes_as_stopped_and_trains_no_further(tmp_path):
    sentences, tags = toy_corpus(NOUNS, VERBS, 40, seed=8)
    first = SequenceTagger(**{**SMALL, "epochs": 30, "patience": 1}).fit(sentences, tags, run_dir=tmp_path / "run",
                                                                        progress=False)
    assert len(first.history_) < 30  # stopped early
    latest = (tmp_path / "run" / "latest.json").read_text(encoding="utf-8")
    resumed = SequenceTagger.resume(tmp_path / "run", epochs=40).fit(sentences, tags, run_dir=tmp_path / "run",
                                                                     progress=False)
    assert resumed.history_ == first.history_ and resumed.train_seconds_ == first.train_seconds_
    assert (tmp_path / "run" / "latest.json").read_text(encoding="utf-8") == latest
    assert resumed.predict(sentences) == first.predict(sentences)
