import gzip
import inspect
from dataclasses import fields

import numpy as np
import pytest

from rnnlab.baselines.classification import baseline_scores
from rnnlab.data.batching import pad_sequences
from rnnlab.data.datasets import deduplicate, load_dataset, stratified_split
from rnnlab.errors import RnnlabError
from rnnlab.nn import CrossEntropyLoss
from rnnlab.tasks.classify import SequenceClassifier
from rnnlab.tasks.classify_config import ClassifyConfig
from rnnlab.tasks.classify_net import ClassifierNet

WORDS = ["abba", "baab", "ab", "ba", "aaab", "bbba", "abababab", "b", "a", "bab", "aba", "abbbbbbbbb"]
LABELS = ["x", "y", "x", "y", "x", "y", "x", "y", "x", "y", "x", "x"]


def _text_classifier(**overrides) -> SequenceClassifier:
    options = {"hidden_size": 8, "embedding_dim": 4, "epochs": 1, "val_fraction": 0.0}
    return SequenceClassifier(**(options | overrides)).fit(WORDS, LABELS)


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_padding_and_batch_composition_do_not_change_predictions(cell, pooling, bidirectional):
    clf = _text_classifier(cell=cell, pooling=pooling, bidirectional=bidirectional)
    alone = np.concatenate([clf.predict_proba([w]) for w in WORDS])  # (N, C), no padding at all
    together = clf.predict_proba(WORDS)  # padding up to the longest word
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-6)
    with_a_long_word = clf.predict_proba([*WORDS, "ab" * 15])[: len(WORDS)]  # much more padding than needed
    np.testing.assert_allclose(with_a_long_word, alone, rtol=0, atol=1e-6)
    shuffled = np.random.default_rng(0).permutation(len(WORDS))
    np.testing.assert_allclose(clf.predict_proba([WORDS[i] for i in shuffled]), together[shuffled], rtol=0, atol=1e-6)


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_network_output_does_not_depend_on_the_padding_side_or_amount(cell, pooling, bidirectional):
    # (the convolutional branch reads post-padded batches only, as the task builds them: test_classify_conv.py)
    config = ClassifyConfig(cell=cell, hidden_size=8, embedding_dim=4, pooling=pooling, bidirectional=bidirectional,
                            conv_filters=0)
    rng = np.random.default_rng(0)
    cases = {True: [rng.integers(2, 6, size=n) for n in (4, 1, 2, 6, 3)],  # character ids, 0 and 1 reserved
             False: [rng.normal(size=(n, 3)).astype(np.float32) for n in (4, 1, 2, 6, 3)]}
    for text, sequences in cases.items():
        net = ClassifierNet(6 if text else 3, 3, config, text=text, seed=0).eval()
        alone = np.concatenate([net(*pad_sequences([s])) for s in sequences])  # (N, C), no padding at all
        for side in ("pre", "post"):
            for maxlen in (None, 30):
                padded = net(*pad_sequences(sequences, side=side, maxlen=maxlen))
                np.testing.assert_allclose(padded, alone, rtol=0, atol=1e-6, err_msg=f"text={text} {side} {maxlen}")


def test_padding_does_not_change_predictions_for_numeric_series():
    rng = np.random.default_rng(0)
    series = [rng.normal(size=(length, 3)) for length in (3, 9, 1, 17, 5)]
    clf = SequenceClassifier(hidden_size=8, epochs=1, val_fraction=0.0, pooling="mean")
    clf.fit(series, ["a", "b", "a", "b", "a"])
    one_by_one = np.concatenate([clf.predict_proba([s]) for s in series])
    np.testing.assert_allclose(clf.predict_proba(series), one_by_one, rtol=0, atol=1e-6)
    reversed_order = clf.predict_proba(series[::-1])[::-1]
    np.testing.assert_allclose(reversed_order, one_by_one, rtol=0, atol=1e-6)


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_network_gradients_match_central_differences(pooling, cell):
    config = ClassifyConfig(cell=cell, hidden_size=3, embedding_dim=2, pooling=pooling, dropout=0.0)
    net = ClassifierNet(6, 3, config, text=True, seed=1, dtype=np.float64)
    ids, mask = pad_sequences([[2, 3, 4], [5], [3, 2]], side="pre")
    target, loss = np.array([0, 2, 1]), CrossEntropyLoss()
    net.zero_grad()
    loss(net(ids, mask), target)
    net.backward(loss.backward())
    for name, parameter in net.named_parameters():
        flat, grad = parameter.data.reshape(-1), parameter.grad.reshape(-1)
        for index in range(0, flat.size, max(1, flat.size // 7)):
            original = flat[index]
            flat[index] = original + 1e-6
            up = loss(net(ids, mask), target)
            flat[index] = original - 1e-6
            down = loss(net(ids, mask), target)
            flat[index] = original
            assert grad[index] == pytest.approx((up - down) / 2e-6, abs=1e-6), name


def test_fit_learns_which_letter_a_word_starts_with():
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("abc"), size=rng.integers(1, 8))) for _ in range(300)]
    labels = [w[0] for w in words]
    clf = SequenceClassifier(hidden_size=16, embedding_dim=8, epochs=15, batch_size=32, lr=1e-2)
    clf.fit(words, labels)
    assert clf.evaluate(words, labels)["accuracy"] > 0.95


def test_save_then_load_gives_identical_probabilities(tmp_path):
    clf = _text_classifier(ensemble=2)
    clf.save(tmp_path / "run")
    loaded = SequenceClassifier.load(tmp_path / "run")
    np.testing.assert_array_equal(loaded.predict_proba(WORDS), clf.predict_proba(WORDS))
    assert loaded.classes_.tolist() == ["x", "y"] and loaded.config == clf.config


def test_ensemble_probabilities_are_the_mean_of_nets_trained_with_seeds_seed_seed_plus_1_and_so_on():
    ensemble = _text_classifier(ensemble=3, seed=5)
    members = [_text_classifier(seed=5 + k).predict_proba(WORDS) for k in range(3)]
    assert not np.allclose(members[0], members[1])  # different seeds, different nets
    np.testing.assert_allclose(ensemble.predict_proba(WORDS), np.mean(members, axis=0), rtol=0, atol=1e-6)


def test_numeric_scaler_statistics_come_from_the_training_split_only():
    train = [np.full((4, 1), 1.0), np.full((4, 1), 3.0)]
    validation = [np.full((4, 1), 100.0)]
    clf = SequenceClassifier(hidden_size=4, epochs=1, znorm=False).fit(train, ["a", "b"], validation, ["a"])
    assert clf.scaler_.mean_.tolist() == [2.0] and clf.scaler_.std_.tolist() == [1.0]


def test_unknown_characters_are_read_as_unk_and_reported():
    clf = _text_classifier()
    assert clf.unknown_characters(["abz", "éa"]) == ["z", "é"]
    probabilities = clf.predict_proba(["az", "aé", "a€", "ab"])  # three unseen characters, one seen
    np.testing.assert_array_equal(probabilities[1], probabilities[0])  # every unseen character is the same <unk>
    np.testing.assert_array_equal(probabilities[2], probabilities[0])
    assert not np.allclose(probabilities[3], probabilities[0], rtol=0, atol=1e-9)
    assert clf.predict_proba(["zzz"]).shape == (1, 2)


def test_bad_hyperparameters_are_refused_where_they_enter():
    with pytest.raises(RnnlabError, match="pooling"):
        SequenceClassifier(pooling="median")
    with pytest.raises(RnnlabError, match="class_weight"):
        SequenceClassifier(class_weight="auto")
    with pytest.raises(RnnlabError, match="char_dropout"):
        SequenceClassifier(char_dropout=1.0)
    with pytest.raises(RnnlabError, match="ensemble"):
        SequenceClassifier(ensemble=0)


def test_constructor_defaults_match_the_config_defaults():
    signature = inspect.signature(SequenceClassifier)
    for field in fields(ClassifyConfig):
        assert signature.parameters[field.name].default == field.default, field.name


def test_predicting_before_fit_is_a_user_error():
    with pytest.raises(RnnlabError, match="not fitted"):
        SequenceClassifier().predict(["abc"])


def test_stratified_split_holds_out_each_class_in_proportion():
    labels = np.array(["a"] * 90 + ["b"] * 10 + ["c"] * 3)
    kept, held = stratified_split(labels, 0.1, seed=3)
    assert sorted(np.concatenate([kept, held]).tolist()) == list(range(len(labels)))
    counts = {c: int((labels[held] == c).sum()) for c in "abc"}
    assert counts == {"a": 9, "b": 1, "c": 1}


def test_deduplicate_keeps_one_copy_per_pair_but_a_name_under_two_labels_twice():
    texts, labels = deduplicate(["Ali", "Ali", "Ali", "Kim"], np.array(["ar", "ar", "en", "ko"]))
    assert list(zip(texts, labels.tolist(), strict=True)) == [("Ali", "ar"), ("Ali", "en"), ("Kim", "ko")]


def test_load_dataset_reads_csv_npz_and_refuses_bad_files(tmp_path):
    (tmp_path / "good.csv").write_text("text,label\nhello,greet\nbye,leave\n", encoding="utf-8")
    data = load_dataset(tmp_path / "good.csv")
    assert data.inputs == ["hello", "bye"] and data.labels.tolist() == ["greet", "leave"] and data.kind == "text"
    (tmp_path / "nolabel.csv").write_text("text,tag\nhello,greet\n", encoding="utf-8")
    with pytest.raises(RnnlabError, match="no column 'label'"):
        load_dataset(tmp_path / "nolabel.csv")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(RnnlabError, match="empty file"):
        load_dataset(tmp_path / "empty.csv")
    (tmp_path / "data.parquet").write_bytes(b"PAR1")
    with pytest.raises(RnnlabError, match="unknown format"):
        load_dataset(tmp_path / "data.parquet")
    np.savez(tmp_path / "arrays.npz", X=np.zeros((4, 6, 2)), y=np.array([0, 1, 0, 1]))
    data = load_dataset(tmp_path / "arrays.npz")
    assert len(data) == 4 and data.inputs[0].shape == (6, 2) and data.kind == "numeric"


def test_load_dataset_reads_idx_images_row_by_row(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in images.shape)
    (tmp_path / "tiny-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + images.tobytes()))
    (tmp_path / "tiny-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + (2).to_bytes(4, "big") + bytes([7, 1]))
    data = load_dataset(tmp_path / "tiny-images-idx3-ubyte.gz")
    assert data.labels.tolist() == ["7", "1"] and data.inputs[1].tolist() == images[1].tolist()


def test_surnames_folder_has_108_distinct_arabic_names_after_deduplication(data_dir):
    data = load_dataset(data_dir / "names")
    texts, labels = deduplicate(data.inputs, data.labels)
    assert int((data.labels == "Arabic").sum()) == 2000 and int((labels == "Arabic").sum()) == 108


def test_ts_reader_and_baselines_on_italy_power_demand(data_dir):
    train = load_dataset(data_dir / "ucr/ItalyPowerDemand/ItalyPowerDemand_TRAIN.ts")
    test = load_dataset(data_dir / "ucr/ItalyPowerDemand/ItalyPowerDemand_TEST.ts")
    assert len(train) == 67 and len(test) == 1029 and train.inputs[0].shape == (24, 1)
    scores = baseline_scores("numeric", train.inputs, train.labels, test.inputs, test.labels)
    assert scores["nn_euclidean"]["accuracy"] == pytest.approx(0.955, abs=0.001)  # UCR archive: 0.955
    assert scores["nn_dtw"]["accuracy"] == pytest.approx(0.950, abs=0.001)  # UCR archive, full window: 0.950
