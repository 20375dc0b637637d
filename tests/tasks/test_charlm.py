import runpy
import sys

import numpy as np
import pytest

from rnnlab.checkpoint import load_checkpoint
from rnnlab.errors import RnnlabError
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


def test_resume_in_two_runs_is_bit_identical_to_one_run(corpus, tmp_path):
    straight = CharLM(**SMALL).fit(corpus, tmp_path / "one", progress=False)
    CharLM(**SMALL).fit(corpus, tmp_path / "two", steps=6, progress=False)
    resumed = CharLM.resume(tmp_path / "two")
    assert resumed.loop_.step == 6
    resumed.fit(out_dir=tmp_path / "two", progress=False)
    assert resumed.loop_.step == straight.loop_.step == 12
    ours, theirs = _arrays(resumed), _arrays(straight)
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    assert resumed.optimizer_.state_dict()["hyper"] == straight.optimizer_.state_dict()["hyper"]
    assert resumed.sample(100, seed=5) == straight.sample(100, seed=5)
    assert resumed.sample(50) == straight.sample(50)  # the sampling generator resumed too


def test_saved_and_loaded_model_gives_same_loss_and_sample(corpus, tmp_path):
    lm = CharLM(**SMALL).fit(corpus, tmp_path / "run", progress=False)
    loaded = CharLM.load(tmp_path / "run", "latest")
    assert loaded.evaluate() == lm.evaluate()
    assert loaded.evaluate(corpus) == lm.evaluate(corpus)
    assert loaded.sample(120, temperature=0.8, top_k=5, seed=3) == lm.sample(120, temperature=0.8, top_k=5, seed=3)


def test_non_ascii_text_round_trips_through_training_and_sampling(tmp_path):
    text = "春眠不觉晓，处处闻啼鸟。Café crème brûlée, naïve façade! 🚀🌕 Ünïcödé 😀\n" * 40
    (tmp_path / "poem.txt").write_text(text, encoding="utf-8")
    lm = CharLM(**(SMALL | {"batch_size": 2})).fit(tmp_path / "poem.txt", tmp_path / "run", progress=False)
    loaded = CharLM.load(tmp_path / "run")
    assert set(loaded.vocab_.chars) == set(text)
    assert {"春", "é", "🚀", "😀"} <= set(loaded.vocab_.chars)
    generated = loaded.sample(300, prime="春眠", seed=0)
    assert len(generated) == 300 and set(generated) <= set(text)
    assert loaded.vocab_.decode(loaded.vocab_.encode(text)) == text
    assert lm.sample(40, seed=1, argmax=True) == loaded.sample(40, seed=2, argmax=True)  # argmax ignores the seed


def test_prime_with_unknown_characters_is_a_clear_error(corpus, tmp_path):
    lm = CharLM(**SMALL | {"max_steps": 1}).fit(corpus, tmp_path / "run", progress=False)
    with pytest.raises(RnnlabError, match="prime text: characters not in the vocabulary: 'Z'"):
        lm.sample(10, prime="Zebra")


def test_fresh_run_refuses_a_used_folder(corpus, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with pytest.raises(RnnlabError, match="not empty"):
        CharLM(**SMALL).fit(corpus, tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"


def test_checkpoint_is_data_with_a_checksum(corpus, tmp_path):
    CharLM(**SMALL | {"max_steps": 3}).fit(corpus, tmp_path / "run", progress=False)
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
    lm = CharLM("min-char-rnn", max_steps=steps, eval_every=steps, eval_chars=500, val_fraction=0.01)
    lm.fit(text, tmp_path / "run", progress=False)
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
