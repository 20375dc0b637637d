import json
import math
import runpy
import sys

import numpy as np
import pytest

from rnnlab.checkpoint import load_checkpoint
from rnnlab.errors import Diverged, RnnlabError
from rnnlab.tasks.charlm import CharLM

from ..conftest import REPO

SMALL = dict(hidden_size=24, num_layers=2, dropout=0.2, embedding_dim=8, seq_len=16, batch_size=4, max_steps=12,
             eval_every=3, warmup_steps=2, sample_every=0, eval_chars=2000)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "text.txt"
    rng = np.random.default_rng(0)
    words = ["the", "king", "queen", "and", "to", "of", "my", "lord", "ROMEO:", "JULIET:", "\n"]
    path.write_text(" ".join(rng.choice(words, size=3000)), encoding="utf-8")
    return path


def _arrays(lm: CharLM) -> dict:
    state = {f"model.{k}": v for k, v in lm.model_.state_dict().items()}
    return state | {f"optim.{k}": v for k, v in lm.optimizer_.state_dict()["buffers"].items()}


class Interrupt(Exception):
    """Stands for Ctrl-C in the middle of a run."""


def interrupt_at(stop_step: int):
    def on_sample(step: int, text: str) -> None:
        if step == stop_step:
            raise Interrupt

    return on_sample


def test_an_interrupted_run_resumed_is_bit_identical_to_one_run(corpus, tmp_path):
    straight = CharLM(**SMALL).fit(corpus, run_dir=tmp_path / "one", progress=False)
    with pytest.raises(Interrupt):  # stopped before step 7; the last checkpoint is step 6's
        CharLM(**SMALL | {"sample_every": 6}).fit(corpus, run_dir=tmp_path / "two", progress=False,
                                                  on_sample=interrupt_at(6))
    resumed = CharLM.resume(tmp_path / "two")
    assert resumed.loop_.step == 6
    resumed.fit(corpus, run_dir=tmp_path / "two", progress=False)
    assert resumed.loop_.step == straight.loop_.step == 12
    figures = ("step", "lr", "val_loss")  # (the smoothed train_loss starts afresh in each call)
    assert [[h[k] for k in figures] for h in resumed.history_] == [[h[k] for k in figures] for h in straight.history_]
    latest = [CharLM.load(tmp_path / run, "latest") for run in ("one", "two")]
    for lm in (resumed, straight), latest:  # the best weights in memory, the last ones in `latest`
        ours, theirs = _arrays(lm[0]), _arrays(lm[1])
        assert ours.keys() == theirs.keys()
        for name in ours:
            np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    assert resumed.optimizer_.state_dict()["hyper"] == straight.optimizer_.state_dict()["hyper"]
    assert resumed.sample(100, seed=5) == straight.sample(100, seed=5)
    assert latest[0].sample(50) == latest[1].sample(50)  # the sampling generator resumed too
    log = [json.loads(line) for line in (tmp_path / "two" / "log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [3, 6, 9, 12]


def test_resume_with_more_steps_stretches_the_schedule_from_the_step_reached(corpus, tmp_path):
    config = SMALL | {"max_steps": 6, "warmup_steps": 2, "min_lr_ratio": 0.1}
    CharLM(**config).fit(corpus, run_dir=tmp_path / "run", progress=False)
    lm = CharLM.resume(tmp_path / "run", max_steps=12).fit(run_dir=tmp_path / "run", progress=False)
    assert [h["step"] for h in lm.history_] == [3, 6, 9, 12]
    lr, floor = lm.lr, lm.lr * 0.1
    cosine = [floor + (lr - floor) * (1 + math.cos(math.pi * (s - 2) / (12 - 2))) / 2 for s in (9, 12)]
    assert [h["lr"] for h in lm.history_[2:]] == pytest.approx(cosine, rel=1e-9)
    assert CharLM.load(tmp_path / "run", "latest").max_steps == 12


@pytest.mark.parametrize("budget, message", [(dict(hidden_size=8), "only max_steps"),
                                             (dict(epochs=3), "no setting 'epochs'"),
                                             (dict(max_steps=2), "max_steps")])
def test_resume_changes_the_budget_only(corpus, tmp_path, budget, message):
    CharLM(**SMALL | {"max_steps": 3}).fit(corpus, run_dir=tmp_path / "run", progress=False)
    with pytest.raises(RnnlabError, match=message):
        CharLM.resume(tmp_path / "run", **budget)


def test_saved_and_loaded_model_gives_same_loss_and_sample(corpus, tmp_path):
    lm = CharLM(**SMALL).fit(corpus, run_dir=tmp_path / "run", progress=False)
    loaded = CharLM.load(tmp_path / "run")  # the best checkpoint: the weights fit leaves in memory
    assert loaded.evaluate() == lm.evaluate()
    assert loaded.evaluate(corpus) == lm.evaluate(corpus)
    assert loaded.sample(120, temperature=0.8, top_k=5, seed=3) == lm.sample(120, temperature=0.8, top_k=5, seed=3)
    assert loaded.score() == -lm.evaluate()["loss"]


def test_fit_without_a_run_folder_writes_nothing(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lm = CharLM(**SMALL | {"max_steps": 3}).fit(corpus, progress=False)
    assert list(tmp_path.iterdir()) == []
    figures = lm.evaluate()
    assert set(figures) == {"characters", "loss", "bpc", "perplexity"}
    assert all(type(v) in (int, float) for v in figures.values())
    lm.save(tmp_path / "model")  # the checkpoint, and the text's ids for the validation split
    assert CharLM.load(tmp_path / "model").evaluate() == figures


def test_fit_without_data_trains_on_the_embedded_tiny_shakespeare(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lm = CharLM(**SMALL | {"max_steps": 1, "eval_every": 1}).fit(progress=False)
    assert len(lm.vocab_) == 65 and lm.corpus_["characters"] == 1_115_394
    assert list(tmp_path.iterdir()) == []


def write_bad(folder, kind: str):
    path = folder / f"{kind}.txt"
    content = {"binary": bytes(range(256)) * 4, "latin1": "café crème\n".encode("latin-1") * 50,
               "utf16": "the king and the queen\n".encode("utf-16-le") * 50, "short": b"to be\n", "empty": b""}
    path.write_bytes(content[kind])
    return path


@pytest.mark.parametrize("kind, message", [("missing", "no such file"), ("binary", "looks binary"),
                                           ("latin1", "not valid UTF-8"), ("utf16", "NUL"),
                                           ("short", "too short"), ("empty", "empty corpus")])
def test_bad_text_is_refused_before_the_run_folder_is_made(tmp_path, kind, message):
    path = tmp_path / "missing.txt" if kind == "missing" else write_bad(tmp_path, kind)
    with pytest.raises(RnnlabError, match=message) as error:
        CharLM(**SMALL).fit(path, run_dir=tmp_path / "run", progress=False)
    assert path.name in str(error.value)
    assert not (tmp_path / "run").exists()


def test_a_non_finite_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(corpus, tmp_path):
    config = SMALL | {"max_steps": 6, "eval_every": 3, "sample_every": 8, "schedule": "constant"}
    CharLM(**config).fit(corpus, run_dir=tmp_path / "clean", progress=False)
    lm = CharLM(**config | {"max_steps": 12})

    def poison(step: int, text: str) -> None:  # after 8 steps: the 9th batch's loss is NaN
        if step == 8:
            lm.model_.head.bias.data[:] = np.nan

    with pytest.raises(Diverged, match="step 9: the loss is nan"):
        lm.fit(corpus, run_dir=tmp_path / "nan", progress=False, on_sample=poison)
    (clean_arrays, clean), (nan_arrays, nan) = (load_checkpoint(tmp_path / run, "latest") for run in ("clean", "nan"))
    assert nan["loop"]["step"] == clean["loop"]["step"] == 6  # the last evaluation's checkpoint, intact
    assert nan["position"] == clean["position"]
    for name in clean_arrays:
        np.testing.assert_array_equal(nan_arrays[name], clean_arrays[name], err_msg=name)


def test_backoff_goes_back_to_the_last_evaluation_with_half_the_rate_and_finishes(corpus, tmp_path):
    lm = CharLM(**SMALL | {"max_steps": 12, "eval_every": 3, "sample_every": 4, "schedule": "constant",
                           "on_nan": "backoff"})
    poisoned = []

    def poison(step: int, text: str) -> None:  # once, after 8 steps: the 9th batch's loss is NaN
        if step == 8 and not poisoned:
            poisoned.append(step)
            lm.model_.head.bias.data[:] = np.nan

    lm.fit(corpus, run_dir=tmp_path / "run", progress=False, on_sample=poison)
    assert poisoned and lm.loop_.step == 12 and lm.loop_.backoffs == 1 and lm.loop_.lr_scale == 0.5
    assert [row["step"] for row in lm.history_] == [3, 6, 9, 12]
    assert lm.optimizer_.lr == pytest.approx(SMALL.get("lr", CharLM().lr) / 2)
    assert load_checkpoint(tmp_path / "run", "latest")[1]["loop"]["lr_scale"] == 0.5


def test_a_loss_that_is_never_finite_is_an_error_and_leaves_no_run(corpus, tmp_path):
    lm = CharLM(**SMALL | {"sample_every": 1})

    def poison(step: int, text: str) -> None:
        lm.model_.head.bias.data[:] = np.nan

    with pytest.raises(Diverged, match="step 1: the loss is nan"):
        lm.fit(corpus, run_dir=tmp_path / "run", progress=False, on_sample=poison)
    assert not (tmp_path / "run").exists()


def test_non_ascii_text_round_trips_through_training_and_sampling(tmp_path):
    text = "春眠不觉晓，处处闻啼鸟。Café crème brûlée, naïve façade! 🚀🌕 Ünïcödé 😀\n" * 40
    (tmp_path / "poem.txt").write_text(text, encoding="utf-8")
    lm = CharLM(**(SMALL | {"batch_size": 2})).fit(tmp_path / "poem.txt", run_dir=tmp_path / "run", progress=False)
    loaded = CharLM.load(tmp_path / "run")
    assert set(loaded.vocab_.chars) == set(text)
    assert {"春", "é", "🚀", "😀"} <= set(loaded.vocab_.chars)
    generated = loaded.sample(300, prime="春眠", seed=0)
    assert len(generated) == 300 and set(generated) <= set(text)
    assert loaded.vocab_.decode(loaded.vocab_.encode(text)) == text
    assert lm.sample(40, seed=1, argmax=True) == loaded.sample(40, seed=2, argmax=True)  # argmax ignores the seed


def test_prime_with_unknown_characters_is_a_clear_error(corpus, tmp_path):
    lm = CharLM(**SMALL | {"max_steps": 1}).fit(corpus, progress=False)
    with pytest.raises(RnnlabError, match="`prime`.*characters not in the vocabulary: 'Z'"):
        lm.sample(10, prime="Zebra")


@pytest.mark.parametrize("bad", [dict(temperature=float("nan")), dict(temperature=float("inf")), dict(top_k=1.5),
                                 dict(top_k=True), dict(top_p=float("nan")), dict(length=-1), dict(length=2.0),
                                 dict(seed=-1), dict(prime="")])
def test_bad_sampling_arguments_name_the_argument(corpus, bad):
    lm = CharLM(**SMALL | {"max_steps": 1}).fit(corpus, progress=False)
    with pytest.raises(RnnlabError, match=f"`{next(iter(bad))}`"):
        lm.sample(**{"length": 10} | bad)


@pytest.mark.parametrize("settings, name", [
    (dict(cell="lstmm"), "cell"), (dict(dropout=1.5), "dropout"), (dict(embedding_dim=-3), "embedding_dim"),
    (dict(clip_norm=0.0), "clip_norm"), (dict(val_fraction=0.6), "val_fraction"), (dict(seq_len=True), "seq_len"),
    (dict(eval_chars=10, seq_len=16), "eval_chars")])
def test_bad_settings_are_refused_at_construction(settings, name):
    with pytest.raises(RnnlabError, match=f"`{name}`"):
        CharLM(**settings)


def test_presets_with_overrides_and_none_for_off():
    lm = CharLM.from_preset("min-char-rnn", max_steps=10)
    assert (lm.cell, lm.embedding_dim, lm.clip_norm, lm.clip_value, lm.max_steps) == ("rnn", None, None, 5.0, 10)
    assert CharLM().get_params() == CharLM.from_preset("default").get_params()
    with pytest.raises(RnnlabError, match="`preset`"):
        CharLM.from_preset("huge")


def test_fresh_run_refuses_a_used_folder(corpus, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with pytest.raises(RnnlabError, match="not empty"):
        CharLM(**SMALL).fit(corpus, run_dir=tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"


def test_checkpoint_is_data_with_a_checksum(corpus, tmp_path):
    CharLM(**SMALL | {"max_steps": 3}).fit(corpus, run_dir=tmp_path / "run", progress=False)
    arrays, meta = load_checkpoint(tmp_path / "run")
    assert meta["task"] == "charlm" and meta["config"]["hidden_size"] == 24 and len(meta["sha256"]) == 64
    assert "model.rnn.weight_ih_l0" in arrays and "optim.0.exp_avg" in arrays
    weights = tmp_path / "run" / "best.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(RnnlabError, match="checksum does not match"):
        CharLM.load(tmp_path / "run")


def test_min_char_rnn_preset_follows_the_seeds_script_step_for_step(data_dir, tmp_path, monkeypatch, capsys):
    peer = REPO.parent / "shared" / "peers" / "min_char_rnn.py"
    if not peer.is_file():
        pytest.skip(f"peer script not found at {peer}")
    text = data_dir / "tinyshakespeare" / "input.txt"
    steps = 50
    monkeypatch.setattr(sys, "argv", ["min_char_rnn.py", str(text), "--iters", str(steps)])
    seed = runpy.run_path(str(peer), run_name="__main__")  # the seed's code, its globals after training
    capsys.readouterr()
    lm = CharLM.from_preset("min-char-rnn", max_steps=steps, eval_every=steps, eval_chars=500, val_fraction=0.01)
    lm.fit(text, progress=False)
    ours = lm.model_.state_dict()
    # Same model, same initialisation and same Adagrad rule: the weights agree after 50 updates up to
    # rounding (different summation orders give 1e-16 differences, which training amplifies to ~3e-9 by
    # step 50 and ~1e-7 by step 100); a different update rule moves weights by 1e-3 or more.
    np.testing.assert_allclose(ours["rnn.weight_ih_l0"], seed["Wxh"], rtol=0, atol=1e-7)
    np.testing.assert_allclose(ours["rnn.weight_hh_l0"], seed["Whh"], rtol=0, atol=1e-7)
    np.testing.assert_allclose(ours["head.weight"], seed["Why"], rtol=0, atol=1e-7)
    np.testing.assert_allclose(ours["rnn.bias_ih_l0"], seed["bh"][:, 0], rtol=0, atol=1e-7)
    np.testing.assert_allclose(ours["head.bias"], seed["by"][:, 0], rtol=0, atol=1e-7)
    assert not ours["rnn.bias_hh_l0"].any()


def test_min_char_rnn_example_matches_the_seed(data_dir):
    import json
    import subprocess

    text = str(data_dir / "tinyshakespeare" / "input.txt")
    peer = REPO.parent / "shared" / "peers" / "min_char_rnn.py"
    if not peer.is_file():
        pytest.skip(f"peer script not found at {peer}")
    runs = [[sys.executable, str(REPO / "examples" / "min_char_rnn.py"), text, "--iters", "120", "--sample-every", "0",
             "--float64"],
            [sys.executable, str(peer), text, "--iters", "120"]]
    ours, theirs = (json.loads(subprocess.run(r, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
                    for r in runs)
    assert ours["smooth_loss"] == pytest.approx(theirs["smooth_loss"], abs=1e-3)
