"""The seq-length experiment: its batches, its trainer (CharLM's own training), the known result and the CLI."""

import json
import math
from dataclasses import replace

import numpy as np

from rnnlab import CharLM
from rnnlab.cli import main
from rnnlab.data.streams import TextStreams
from rnnlab.experiments.seq_length import QUICK, lm_config, loss_on, overlapping_windows, shakespeare, train_lm, verdict
from rnnlab.tasks.charlm import embedded_text


def test_overlapping_windows_step_the_pointer_by_one_and_always_reset():
    next_batch = overlapping_windows(np.arange(20), batch_size=2, seq_len=3)
    x, y, reset = next_batch()
    assert x.T.tolist() == [[0, 1, 2], [10, 11, 12]] and y.T.tolist() == [[1, 2, 3], [11, 12, 13]] and reset
    assert next_batch()[0].T.tolist() == [[1, 2, 3], [11, 12, 13]]
    for _ in range(5):
        x, _, reset = next_batch()
    assert x.T.tolist() == [[6, 7, 8], [16, 17, 18]] and reset
    assert next_batch()[0].T.tolist() == [[0, 1, 2], [10, 11, 12]]  # wrapped: 6 + 3 + 1 = 10 characters left none


def test_the_carried_variant_is_charlms_own_training(tmp_path):
    setup = replace(QUICK, corpus_chars=6_000)
    text = tmp_path / "t.txt"
    text.write_text(embedded_text()[: setup.corpus_chars], encoding="utf-8")
    settings = {"hidden_size": 16, "embedding_dim": 8, "seq_len": 16, "batch_size": 4, "max_steps": 12,
                "val_fraction": setup.val_fraction}
    lm = CharLM(**vars(lm_config(**settings, eval_every=12))).fit(text, progress=False)
    vocab_size, train_ids, val_ids = shakespeare(setup.corpus_chars, setup.val_fraction)
    model, history = train_lm(lm_config(**settings), vocab_size, TextStreams(train_ids, 4, 16).next_batch, True,
                              lambda m: {"val_loss": loss_on(m, val_ids, 4, 16)})
    assert math.isclose(history[-1]["val_loss"], lm.history_[-1]["val_loss"], rel_tol=1e-5)


def test_the_verdict_follows_the_figures():
    figures = {"setup": {"train_chars": 1000}, "seq_lens": [4, 16, 64], "sweep_val_loss": [2.0, 1.8, 1.9],
               "same_steps_val_loss": [2.1, 1.9, 1.7], "compare_len": 16, "compare_steps": 100,
               "variant_val_loss": {"stride T, state carried": 1.8, "stride T, state reset": 1.85,
                                    "stride 1, state reset": 2.2}}
    text = verdict(figures)
    assert "the best is T=16, with shorter and longer windows worse" in text and "the best is T=64" in text
    assert "stepping by seq_len with the state carried is best" in text
    figures["variant_val_loss"]["stride 1, state reset"] = 1.5
    assert "the best here is stride 1, state reset" in verdict(figures)


def test_quick_run_through_the_cli_writes_its_plot_and_figures(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["experiment", "seq-length", "--quick", "--out", str(out), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (out / "seq_length.png").read_bytes().startswith(b"\x89PNG")
    written = json.loads((out / "figures.json").read_text())
    keys = {"seq_lens", "sweep_val_loss", "same_steps_val_loss", "variant_val_loss", "variant_curves"}
    assert keys <= written.keys() and keys <= document.keys()
    assert document["plots"] == ["seq_length.png"] and document["verdict"] == written["verdict"]
