"""What `SequenceTagger` learns and keeps, seen only through fit / predict / evaluate / history_."""

import itertools

import numpy as np

from rnnlab import SequenceTagger

SMALL = dict(word_dim=16, char_dim=8, char_hidden=16, shape_dim=4, hidden_size=24, dropout=0.2, batch_size=16,
             lr=1e-2, minutes=None)  # minutes=None: training ends by epochs, never by the clock

# A deterministic toy language: two sentence patterns, and "fish" is a NOUN or a VERB by its place alone.
NOUNS = ["dog", "cat", "bird", "fish", "horse", "mouse"]
VERBS = ["sees", "likes", "chases", "fish"]


def toy_language(count: int, seed: int) -> tuple[list[list[str]], list[list[str]]]:
    rng = np.random.default_rng(seed)
    sentences, tags = [], []
    for _ in range(count):
        subject, verb, noun = rng.choice(NOUNS), rng.choice(VERBS), rng.choice(NOUNS)
        if rng.random() < 0.5:
            sentences.append(["the", subject, verb, "the", noun])
            tags.append(["DET", "NOUN", "VERB", "DET", "NOUN"])
        else:
            sentences.append(["we", verb, "a", noun, "."])
            tags.append(["PRON", "VERB", "DET", "NOUN", "PUNCT"])
    return sentences, tags


def every_sentence() -> tuple[list[list[str]], list[list[str]]]:
    """All 6 * 4 * 6 + 4 * 6 = 168 sentences of the toy language."""
    sentences = [["the", s, v, "the", n] for s, v, n in itertools.product(NOUNS, VERBS, NOUNS)]
    tags = [["DET", "NOUN", "VERB", "DET", "NOUN"]] * len(sentences)
    more = [["we", v, "a", n, "."] for v, n in itertools.product(VERBS, NOUNS)]
    return sentences + more, tags + [["PRON", "VERB", "DET", "NOUN", "PUNCT"]] * len(more)


def test_tagger_learns_a_deterministic_toy_language_perfectly_within_twelve_epochs():
    train, validation = toy_language(60, seed=0), toy_language(20, seed=1)
    tagger = SequenceTagger(**SMALL, epochs=12, patience=12).fit(*train, *validation, progress=False)
    assert len(tagger.history_) == 12  # the epoch budget, not a clock, ended training
    scores = tagger.evaluate(*every_sentence())
    assert scores["tokens"] == 5 * 168 and scores["accuracy"] == 1.0
    # the most frequent tag of "fish" is wrong in one of its places
    assert scores["baselines"]["most_frequent_tag"]["accuracy"] < 1.0
    assert tagger.predict([["we", "fish", "a", "fish", "."], ["the", "fish", "fish", "the", "fish"]]) == [
        ["PRON", "VERB", "DET", "NOUN", "PUNCT"], ["DET", "NOUN", "VERB", "DET", "NOUN"]]


# Training words end in -tion (nouns) or -ize (verbs); the validation nouns end in -ize and its verbs in -tion,
# so validation accuracy rises and falls as the tagger weighs word endings against word order.
TRAIN_NOUNS = ["nation", "station", "motion", "lotion", "ration", "potion", "fiction", "action", "option", "caution"]
TRAIN_VERBS = ["realize", "organize", "memorize", "finalize", "idealize", "localize", "utilize", "normalize"]


def suffix_corpus(nouns, verbs, count, seed):
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


def test_fit_keeps_the_weights_of_the_best_validation_epoch_not_the_last():
    train = suffix_corpus(TRAIN_NOUNS, TRAIN_VERBS, 40, seed=0)
    validation = suffix_corpus(["capsize", "prize", "size"], ["mention", "caution", "station"], 20, seed=1)
    tagger = SequenceTagger(**SMALL | dict(batch_size=8, epochs=15, patience=3)).fit(*train, *validation,
                                                                                        progress=False)
    accuracies = [entry["val_accuracy"] for entry in tagger.history_]
    assert len(accuracies) < 15  # patience ran out
    assert accuracies[-1] < max(accuracies)  # so the last epoch is not the best one
    assert accuracies.index(max(accuracies)) == len(accuracies) - 4  # the best, then 3 epochs without progress
    assert tagger.evaluate(*validation)["accuracy"] == max(accuracies)
    assert tagger.best_val_accuracy_ == max(accuracies)


def test_validation_accuracy_in_history_is_evaluate_accuracy_on_the_validation_set():
    train, validation = toy_language(30, seed=2), toy_language(10, seed=3)
    tagger = SequenceTagger(**SMALL, epochs=1).fit(*train, *validation, progress=False)
    (entry,) = tagger.history_
    assert tagger.evaluate(*validation)["accuracy"] == entry["val_accuracy"]
