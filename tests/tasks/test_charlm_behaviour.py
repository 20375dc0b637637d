import json
import math

import numpy as np
import pytest

from rnnlab import CharLM, RnnlabError

TINY = dict(cell="lstm", hidden_size=32, num_layers=1, dropout=0.0, embedding_dim=16, seq_len=16, batch_size=4,
            sample_every=0, eval_chars=2000, lr=1e-2)
COSINE = TINY | dict(max_steps=120, eval_every=10, warmup_steps=20, min_lr_ratio=0.05)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """600 short sentences from a tiny grammar: easy to learn, 22 distinct characters."""
    rng = np.random.default_rng(0)
    subjects = ["the cat", "a dog", "my bird", "her fish"]
    verbs = ["sat on", "ran to", "saw", "ate"]
    objects = ["the mat.", "a box.", "the sun.", "some food."]
    lines = [f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}" for _ in range(600)]
    path = tmp_path_factory.mktemp("corpus") / "grammar.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """A model trained for 120 steps with warm-up + cosine, evaluated every 10 steps: (model, run folder)."""
    run = tmp_path_factory.mktemp("cosine") / "run"
    return CharLM(**COSINE).fit(corpus, run_dir=run, progress=False), run


def _history(lm: CharLM) -> list[dict]:
    """The per-evaluation records: `history_` if the model has one, else its loop state's history."""
    history = getattr(lm, "history_", None)
    return history if history is not None else lm.loop_.history


def test_validation_loss_falls_below_uniform_guessing(trained):
    lm, run = trained
    history = _history(lm)
    assert [h["step"] for h in history] == list(range(10, 121, 10))
    first, last = history[0]["val_loss"], history[-1]["val_loss"]
    assert last < 0.5 * first
    assert last < 0.5 * math.log(len(lm.vocab_))
    assert lm.evaluate()["loss"] == pytest.approx(last, rel=1e-6)
    assert lm.evaluate()["bpc"] == pytest.approx(last / math.log(2), rel=1e-6)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [entry["val_loss"] for entry in log] == [h["val_loss"] for h in history]


def test_learning_rate_warms_up_linearly_then_decays_by_cosine_to_the_floor(trained):
    lm, _ = trained
    c = lm.config
    lr, warmup, floor = c.lr, c.warmup_steps, c.lr * c.min_lr_ratio
    history = _history(lm)
    steps, logged = [h["step"] for h in history], [h["lr"] for h in history]
    # The logged lr at step s is the one the next step uses: warm-up from 1% of lr over warmup_steps,
    # then half a cosine from lr down to lr * min_lr_ratio at max_steps.
    expected = [lr * (0.01 + 0.99 * s / warmup) if s < warmup
                else floor + (lr - floor) * (1 + math.cos(math.pi * (s - warmup) / (c.max_steps - warmup))) / 2
                for s in steps]
    assert logged == pytest.approx(expected, rel=1e-9)
    peak = steps.index(warmup)
    assert logged[peak] == pytest.approx(lr) and max(logged) == pytest.approx(lr)
    assert all(a < b for a, b in zip(logged[:peak], logged[1 : peak + 1], strict=True))
    assert all(a > b for a, b in zip(logged[peak:], logged[peak + 1 :], strict=False))
    assert logged[-1] == pytest.approx(floor, rel=1e-9)


def test_constant_schedule_keeps_the_learning_rate(corpus, tmp_path):
    lm = CharLM(**TINY | dict(schedule="constant", max_steps=20, eval_every=5, warmup_steps=10))
    lm.fit(corpus, run_dir=tmp_path / "run", progress=False)
    logged = [h["lr"] for h in _history(lm)]
    assert len(logged) == 4 and logged == [lm.config.lr] * 4


def test_best_checkpoint_holds_the_best_weights_and_latest_the_last(corpus, tmp_path):
    run = tmp_path / "run"
    CharLM(**TINY | dict(schedule="constant", max_steps=40, eval_every=10)).fit(corpus, run_dir=run, progress=False)
    lm = CharLM.resume(run, max_steps=60)
    lm.optimizer_.lr = 1.0  # then 20 steps at a far too large learning rate: the model gets worse
    lm.fit(corpus, run_dir=run, progress=False)
    history = _history(lm)
    losses = [h["val_loss"] for h in history]
    best = min(losses)
    best_step = history[losses.index(best)]["step"]
    assert best_step < history[-1]["step"] == 60 and losses[-1] > best  # the run this test needs
    assert lm.loop_.best == best and lm.loop_.best_step == best_step

    best_lm, latest_lm = CharLM.load(run, "best"), CharLM.load(run, "latest")
    assert best_lm.evaluate()["loss"] == pytest.approx(best, rel=1e-6)
    assert latest_lm.evaluate()["loss"] == pytest.approx(losses[-1], rel=1e-6)
    assert best_lm.loop_.step == best_step and latest_lm.loop_.step == 60


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_tiny_top_p_samples_the_likeliest_character(trained, seed):
    lm, _ = trained
    assert lm.sample(80, top_p=1e-6, seed=seed) == lm.sample(80, argmax=True)


def test_top_p_of_one_is_plain_sampling(trained):
    lm, _ = trained
    for seed in (0, 3):
        assert lm.sample(150, top_p=1.0, seed=seed) == lm.sample(150, seed=seed)
    assert lm.sample(150, temperature=1.5, top_p=1.0, seed=5) == lm.sample(150, temperature=1.5, seed=5)


def test_temperature_sharpens_or_flattens_sampling(trained):
    lm, _ = trained
    for seed in (0, 1):
        assert lm.sample(80, temperature=1e-4, seed=seed) == lm.sample(80, argmax=True)
    assert lm.sample(150, temperature=2.0, seed=0) != lm.sample(150, seed=0)


def test_same_seed_same_sample_and_different_seeds_differ(trained):
    lm, _ = trained
    for kwargs in ({}, dict(temperature=0.7), dict(top_k=3), dict(top_p=0.9)):
        assert lm.sample(120, seed=11, **kwargs) == lm.sample(120, seed=11, **kwargs)
    assert lm.sample(120, temperature=1.5, seed=1) != lm.sample(120, temperature=1.5, seed=2)


@pytest.mark.parametrize("length", [0, 1, 37, 200])
def test_sample_returns_exactly_length_characters(trained, length):
    lm, _ = trained
    for kwargs in ({}, dict(argmax=True), dict(top_k=2), dict(prime="the cat")):
        text = lm.sample(length, seed=4, **kwargs)
        assert isinstance(text, str) and len(text) == length
        assert set(text) <= set(lm.vocab_.chars)


@pytest.mark.parametrize("bad", [dict(temperature=0), dict(temperature=-1.0), dict(top_k=0), dict(top_k=-3),
                                 dict(top_p=0), dict(top_p=1.5), dict(top_p=-0.1)])
def test_bad_sampling_settings_raise_rnnlab_error(trained, bad):
    lm, _ = trained
    with pytest.raises(RnnlabError):
        lm.sample(10, seed=0, **bad)


def test_sampling_before_training_is_an_error():
    with pytest.raises(RnnlabError, match="not fitted"):
        CharLM(**TINY).sample(10)


class _Draws:
    """Stands in for the sampling generator: hands out the given uniform numbers, `random(n)` n at a time."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = list(values)

    def random(self, n: int) -> np.ndarray:
        taken, self.values = self.values[:n], self.values[n:]
        return np.array(taken)


@pytest.mark.parametrize("kwargs", [{}, dict(temperature=0.7, top_k=4), dict(top_p=0.8)])
def test_each_of_many_samples_is_the_text_its_own_draws_give_alone(trained, kwargs):
    """A batch of samples: row r is what one sample makes of the uniform draws that row got, as if alone."""
    lm, _ = trained
    draws = np.random.default_rng(8).random((60, 3))  # (steps, rows): the batch takes a step's 3 draws at once
    lm._sample_rng = _Draws(draws.ravel())
    texts = lm.sample(60, prime="the ", num_samples=3, **kwargs)
    assert isinstance(texts, list) and len(texts) == 3 and len(set(texts)) == 3
    for row, text in enumerate(texts):
        lm._sample_rng = _Draws(draws[:, row])
        assert lm.sample(60, prime="the ", **kwargs) == text


def test_one_of_many_samples_is_the_single_sample(trained):
    lm, _ = trained
    assert lm.sample(90, seed=3, num_samples=1) == [lm.sample(90, seed=3)]
    assert lm.sample(40, argmax=True, num_samples=4) == [lm.sample(40, argmax=True)] * 4
    assert lm.sample(0, seed=1, num_samples=2) == ["", ""]


@pytest.mark.parametrize("bad", [dict(num_samples=0), dict(num_samples=2.5), dict(num_samples=2, length=6 * 10**6),
                                 dict(num_samples=2, stream=print)])
def test_bad_sample_counts_raise_rnnlab_error(trained, bad):
    lm, _ = trained
    with pytest.raises(RnnlabError):
        lm.sample(**{"length": 10, "seed": 0} | bad)
