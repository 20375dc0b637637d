"""Fuzzing checkpoints: whatever the weights bytes or the JSON fields, loading returns or raises RnnlabError.

Three properties, each under the same caps as the readers' fuzzing (tests/data/test_fuzz.py: 2 s an
example, 64 MiB at the peak, RNNLAB_FUZZ_EXAMPLES examples, derandomized):

- a safetensors file (random bytes, or a valid one mutated) named by a JSON with its true checksum;
- a checkpoint's JSON text mutated byte by byte (its checksum then no longer matches, or it is not JSON);
- a task checkpoint whose JSON fields were replaced by other JSON values and saved consistently
  (checksums and all, as a hostile writer would), loaded by `SequenceClassifier.load` and `CharLM.load`.

A longer run: RNNLAB_FUZZ_EXAMPLES=5000 python -m pytest -q tests/test_checkpoint_fuzz.py passed its
5 tests (25,000 checkpoints) in 21 min 26 s on 2 heavily shared cores (2026-11-30). Earlier long runs found,
and the loaders now refuse in one line: a setting name holding a newline, an out-of-range generator state
(OverflowError), and an exception message carrying a newline from the file.
"""

import copy
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from safetensors.numpy import save

from rnnlab.checkpoint import load_checkpoint, save_checkpoint
from rnnlab.tasks.charlm import CharLM
from rnnlab.tasks.classify import SequenceClassifier

from .data.test_fuzz import FUZZ, mutated, returns_or_refuses

WEIGHTS = save({"model.w": np.arange(6, dtype=np.float32).reshape(2, 3), "optim.step": np.array([3])},
               metadata={"rnnlab.json_sha256": "0" * 64})
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() |
                           st.text(max_size=12), lambda inner: st.lists(inner, max_size=4) |
                           st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[type, dict, dict]]:
    """A tiny saved model of two tasks: (class, arrays, JSON document without format/weights/sha256)."""
    folder = tmp_path_factory.mktemp("runs")
    texts, labels = ["aaeio", "bcdfg", "eaiou", "gfdcb"] * 5, ["v", "c", "v", "c"] * 5
    SequenceClassifier(hidden_size=4, embedding_dim=4, epochs=1).fit(texts, labels, progress=False).save(folder / "c")
    lm = CharLM(hidden_size=4, num_layers=1, embedding_dim=4, seq_len=8, batch_size=2, max_steps=2, eval_every=2,
                sample_every=0)
    (folder / "text.txt").write_text("the cat sat on the mat. " * 40)
    lm.fit(folder / "text.txt", progress=False).save(folder / "l")
    found = {}
    for name, task in (("c", SequenceClassifier), ("l", CharLM)):
        arrays, meta = load_checkpoint(folder / name)
        found[name] = (task, arrays, {k: v for k, v in meta.items() if k not in ("format", "weights", "sha256")})
    return found


def _with_json_for(folder: Path, weights: bytes) -> None:
    (folder / "best.safetensors").write_bytes(weights)
    document = {"format": "rnnlab-checkpoint-1", "weights": "best.safetensors",
                "sha256": hashlib.sha256(weights).hexdigest()}
    (folder / "best.json").write_text(json.dumps(document))


@FUZZ
@given(data=st.one_of(st.binary(max_size=600), mutated(WEIGHTS), mutated(WEIGHTS)))
def test_any_weights_file_loads_or_is_refused(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("weights")
    _with_json_for(folder, data)
    returns_or_refuses(lambda path: load_checkpoint(path.parent), folder / "best.safetensors", data)


@FUZZ
@given(data=st.data())
def test_any_mutation_of_a_checkpoint_json_is_refused(runs, tmp_path_factory, data):
    task, arrays, meta = runs[data.draw(st.sampled_from(["c", "l"]))]
    folder = tmp_path_factory.mktemp("json")
    json_path = save_checkpoint(folder, "best", arrays, meta)
    text = data.draw(mutated(json_path.read_bytes()))
    returns_or_refuses(lambda path: task.load(path.parent), json_path, text)


def _replace(document: dict, data) -> dict:
    """`document` with one field (at any depth) replaced by a JSON value, or deleted."""
    document = copy.deepcopy(document)
    node = document
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = data.draw(st.sampled_from(keys))
        if isinstance(node[key], dict | list) and node[key] and data.draw(st.booleans()):
            node = node[key]
            continue
        if isinstance(node, dict) and data.draw(st.integers(0, 4)) == 0:
            del node[key]
        else:
            node[key] = data.draw(JSON_VALUES)
        return document


@FUZZ
@given(data=st.data())
@pytest.mark.parametrize("name", ["c", "l"])
def test_a_consistent_checkpoint_with_any_field_replaced_loads_or_is_refused(runs, tmp_path_factory, name, data):
    task, arrays, meta = runs[name]
    folder = tmp_path_factory.mktemp("fields")
    json_path = save_checkpoint(folder, "best", arrays, _replace(meta, data))
    returns_or_refuses(lambda path: task.load(path.parent), json_path, json_path.read_bytes())


@FUZZ
@given(data=st.data())
def test_a_consistent_checkpoint_with_an_array_reshaped_loads_or_is_refused(runs, tmp_path_factory, data):
    task, arrays, meta = runs[data.draw(st.sampled_from(["c", "l"]))]
    folder = tmp_path_factory.mktemp("arrays")
    key = data.draw(st.sampled_from(sorted(arrays)))
    shape = data.draw(st.lists(st.integers(0, 5), min_size=0, max_size=3))
    changed = arrays | {key: np.zeros(shape, data.draw(st.sampled_from([np.float32, np.float64, np.int64])))}
    json_path = save_checkpoint(folder, "best", changed, meta)
    returns_or_refuses(lambda path: task.load(path.parent), json_path, json_path.read_bytes())
