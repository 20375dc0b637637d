"""engine="torch": every task trains, loads and resumes the same on both engines (issue 14, acceptance 1).

From the same initial weights with dropout 0, a few steps on each engine follow the same losses
(float32, to 1e-4); a run loaded on the other engine gives the same outputs to float tolerance and
the same argmax predictions / greedy samples; a run trained on one engine and resumed on the other
ends where a run on one engine ends (the optimizer state is carried in the checkpoint).
"""

import numpy as np
import pytest

pytest.importorskip("torch")

from rnnlab import CharLM, Forecaster, SequenceClassifier, SequenceTagger  # noqa: E402
from rnnlab.errors import InvalidArgument  # noqa: E402

from ..cli.test_grammar import write_text  # noqa: E402

NAMES = (["anna", "maria", "sofia", "elena", "julia", "laura"] * 4, ["kurt", "hans", "franz", "jost", "horst",
                                                                      "ernst"] * 4)
SENTENCES = [["the", "cat", "sees", "a", "dog"], ["a", "dog", "sees", "the", "cat"], ["the", "dog", "runs"]] * 6
TAGS = [["DET", "NOUN", "VERB", "DET", "NOUN"], ["DET", "NOUN", "VERB", "DET", "NOUN"], ["DET", "NOUN", "VERB"]] * 6


def series() -> np.ndarray:
    t = np.arange(120.0)
    return 10 + np.sin(2 * np.pi * t / 12) + 0.01 * t


def names():
    texts = NAMES[0] + NAMES[1]
    return texts, ["f"] * len(NAMES[0]) + ["m"] * len(NAMES[1])


# task: (make it, fit it on the data, its prediction on held-in data, (budget, half of it, all of it))
TASKS = {
    "charlm": (lambda **k: CharLM(**{"hidden_size": 16, "num_layers": 2, "embedding_dim": 8, "seq_len": 16,
                                     "batch_size": 4, "max_steps": 6, "eval_every": 3, "sample_every": 0,
                                     "dropout": 0.0, "eval_chars": 400} | k),
               lambda m, corpus, **kw: m.fit(corpus if m._resumed_from is None else None, progress=False, **kw),
               lambda m, corpus: np.array([list(text) for text in m.sample(30, argmax=True, prime="the ",
                                                                           num_samples=2)]), ("max_steps", 3, 6)),
    "classify": (lambda **k: SequenceClassifier(**{"hidden_size": 8, "embedding_dim": 8, "epochs": 3,
                                                   "batch_size": 8, "dropout": 0.0, "char_dropout": 0.0} | k),
                 lambda m, corpus, **kw: m.fit(*names(), progress=False, **kw),
                 lambda m, corpus: m.predict(names()[0]), ("epochs", 1, 3)),
    "tag": (lambda **k: SequenceTagger(**{"hidden_size": 8, "word_dim": 8, "char_dim": 4, "char_hidden": 4,
                                          "epochs": 3, "batch_size": 4, "dropout": 0.0, "word_dropout": 0.0,
                                          "minutes": None} | k),
            lambda m, corpus, **kw: m.fit(SENTENCES, TAGS, progress=False, **kw),
            lambda m, corpus: np.array(sum(m.predict(SENTENCES[:3]), [])), ("epochs", 1, 3)),
    "forecast": (lambda **k: Forecaster(**{"lookback": 12, "horizon": 3, "hidden_size": 8, "max_steps": 20,
                                           "eval_every": 5, "dropout": 0.0} | k),
                 lambda m, corpus, **kw: m.fit(series(), progress=False, **kw),
                 lambda m, corpus: m.predict(), ("max_steps", 10, 20)),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_text(tmp_path_factory.mktemp("text"))


def losses(model) -> list[float]:
    return [row.get("train_loss") for row in model.history_] + [row.get("val_loss") for row in model.history_
                                                                 if "val_loss" in row]


@pytest.mark.parametrize("task", TASKS)
def test_both_engines_follow_the_same_losses_from_the_same_weights(task, corpus):
    make, fit, _, _ = TASKS[task]
    numpy_run, torch_run = fit(make(), corpus), fit(make(engine="torch"), corpus)
    np.testing.assert_allclose(losses(torch_run), losses(numpy_run), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("task", TASKS)
def test_a_run_loads_on_the_other_engine_with_the_same_outputs(task, corpus, tmp_path):
    make, fit, predict, _ = TASKS[task]
    for trained_on, loaded_on in (("numpy", "torch"), ("torch", "numpy")):
        model = fit(make(engine=trained_on), corpus)
        model.save(tmp_path / trained_on)
        other = type(model).load(tmp_path / trained_on, engine=loaded_on)
        assert other.config.engine == loaded_on
        first, second = predict(model, corpus), predict(other, corpus)
        if first.dtype.kind == "f":
            np.testing.assert_allclose(second, first, rtol=1e-5, atol=1e-5)
        else:
            np.testing.assert_array_equal(second, first)


@pytest.mark.parametrize("task", TASKS)
def test_a_run_resumed_on_the_other_engine_ends_where_a_one_engine_run_ends(task, corpus, tmp_path):
    make, fit, _, (budget, half, full) = TASKS[task]
    ends = {}
    for first in ("numpy", "torch"):  # half the budget on `first`, the rest on numpy
        run = tmp_path / first
        fit(make(engine=first, **{budget: half}), corpus, run_dir=run)
        resumed = type(make()).resume(run, engine="numpy", **{budget: full})
        ends[first] = fit(resumed, corpus, run_dir=run)
        assert ends[first].config.engine == "numpy" and getattr(ends[first].config, budget) == full
    np.testing.assert_allclose(losses(ends["torch"]), losses(ends["numpy"]), rtol=1e-4, atol=1e-5)
    for (name, a), (_, b) in zip(sorted(weights(ends["torch"]).items()), sorted(weights(ends["numpy"]).items()),
                                 strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5, err_msg=name)


def weights(model) -> dict[str, np.ndarray]:
    arrays, _ = model._state()
    return {k: v for k, v in arrays.items() if v.dtype.kind == "f"}


def test_engine_settings_are_checked_where_they_enter():
    with pytest.raises(InvalidArgument, match="device"):
        CharLM(device="cuda")  # the NumPy engine computes on the CPU
    with pytest.raises(InvalidArgument, match="amp"):
        SequenceClassifier(amp=True)
    with pytest.raises(InvalidArgument, match="log_gradients"):
        Forecaster(engine="torch", log_gradients=True)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(InvalidArgument, match="no CUDA device"):
            CharLM(engine="torch", device="cuda")


def test_a_torch_run_with_dropout_resumes_exactly(tmp_path):
    """PyTorch draws the dropout masks; its random state is saved with the run, so a resumed run draws on."""
    make, fit, _, _ = TASKS["forecast"]
    whole = fit(make(engine="torch", dropout=0.3, max_steps=20), None, run_dir=tmp_path / "whole")
    fit(make(engine="torch", dropout=0.3, max_steps=10), None, run_dir=tmp_path / "split")
    resumed = fit(Forecaster.resume(tmp_path / "split", max_steps=20), None, run_dir=tmp_path / "split")
    assert [row["train_loss"] for row in resumed.history_] == [row["train_loss"] for row in whole.history_]
