"""Checkpoints: arrays and settings round-trip, files get ordinary permissions, a changed weights file is caught."""

import hashlib
import json
import os
import pickle
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from rnnlab.checkpoint import load_checkpoint, save_checkpoint
from rnnlab.errors import RnnlabError


def test_a_checkpoint_round_trips_and_its_files_get_ordinary_permissions(tmp_path):
    arrays = {"model.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "optim.step": np.array([3]),
              "model.bn.num_batches_tracked": np.array(5)}  # a 0-d buffer stays 0-d
    json_path = save_checkpoint(tmp_path, "best", arrays, {"task": "demo", "step": 3})
    loaded, meta = load_checkpoint(tmp_path, "best")
    assert meta["task"] == "demo" and meta["step"] == 3 and loaded.keys() == arrays.keys()
    for name, array in arrays.items():
        assert loaded[name].shape == array.shape, name
        np.testing.assert_array_equal(loaded[name], array)
    mask = os.umask(0)
    os.umask(mask)
    for path in (json_path, tmp_path / "best.safetensors"):  # as any file the user writes: the umask decides
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path.name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.json", "best.safetensors"]  # no temporary left


def test_a_weights_file_that_changed_is_refused(tmp_path):
    save_checkpoint(tmp_path, "best", {"w": np.zeros(3, np.float32)}, {})
    weights = tmp_path / "best.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\x00\x00\x80\x3f")
    with pytest.raises(RnnlabError, match="checksum does not match"):
        load_checkpoint(tmp_path, "best")


# ---- interrupted saves -------------------------------------------------------------------------------------
def test_saves_cut_short_before_their_json_leave_the_last_complete_checkpoint(tmp_path, monkeypatch):
    import rnnlab.checkpoint as checkpoint

    write = checkpoint.atomic_write_bytes

    def killed_before_the_json(path, data):  # as a kill -9 between the weights' rename and the JSON's
        if Path(path).suffix == ".json":
            raise SystemExit("killed")
        write(path, data)

    save_checkpoint(tmp_path, "latest", {"w": np.full(3, 1.0)}, {"step": 1})
    monkeypatch.setattr(checkpoint, "atomic_write_bytes", killed_before_the_json)
    for step in (2, 3):  # twice in a row: the second must not lose the weights the JSON still names
        with pytest.raises(SystemExit):
            save_checkpoint(tmp_path, "latest", {"w": np.full(3, float(step))}, {"step": step})
        arrays, meta = load_checkpoint(tmp_path, "latest")
        assert meta["step"] == 1 and arrays["w"].tolist() == [1.0, 1.0, 1.0]
    monkeypatch.setattr(checkpoint, "atomic_write_bytes", write)
    save_checkpoint(tmp_path, "latest", {"w": np.full(3, 4.0)}, {"step": 4})
    arrays, meta = load_checkpoint(tmp_path, "latest")
    assert meta["step"] == 4 and arrays["w"].tolist() == [4.0, 4.0, 4.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.json", "latest.safetensors"]


def test_a_save_that_cannot_be_written_leaves_the_previous_files_as_they_were(tmp_path, monkeypatch):
    import errno

    import rnnlab.checkpoint as checkpoint

    save_checkpoint(tmp_path, "best", {"w": np.zeros(4)}, {"step": 1})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "fdopen", full)  # the first write of the save fails as on a full disk
    with pytest.raises(RnnlabError, match="No space left on device.*intact"):
        save_checkpoint(tmp_path, "best", {"w": np.ones(4)}, {"step": 2})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


# ---- checkpoints from strangers ----------------------------------------------------------------------------
def test_an_edited_json_or_a_newer_format_is_refused(tmp_path):
    json_path = save_checkpoint(tmp_path, "best", {"w": np.zeros(2)}, {"config": {"hidden_size": 8}})
    document = json.loads(json_path.read_text())
    json_path.write_text(json.dumps(document | {"config": {"hidden_size": 9}}))
    with pytest.raises(RnnlabError, match="does not match its weights file"):
        load_checkpoint(tmp_path)
    json_path.write_text(json.dumps(document | {"format": "rnnlab-checkpoint-7"}))
    with pytest.raises(RnnlabError, match="format '7' was written by a newer rnnlab; this one reads format 1"):
        load_checkpoint(tmp_path)
    json_path.write_text(json.dumps(document | {"weights": "../elsewhere.safetensors"}))
    with pytest.raises(RnnlabError, match="names no weights file beside it"):
        load_checkpoint(tmp_path)


class Payload:
    """Unpickling this creates the file `marker`: proof that a loader executed what it read."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def pickled(marker: Path) -> bytes:
    return pickle.dumps(Payload(marker))


def _with_matching_json(folder: Path, weights: bytes) -> Path:
    """A best.json that names `weights` (written as best.safetensors) with their true checksum."""
    (folder / "best.safetensors").write_bytes(weights)
    document = {"format": "rnnlab-checkpoint-1", "weights": "best.safetensors", "task": "classify",
                "sha256": hashlib.sha256(weights).hexdigest()}
    (folder / "best.json").write_text(json.dumps(document))
    return folder / "best.json"


@pytest.mark.parametrize("form", ["npz", "safetensors", "json"])
def test_a_pickle_payload_is_refused_without_being_executed(form, tmp_path, capsys):
    from rnnlab.cli import main

    marker = tmp_path / "marker"
    folder = tmp_path / "run"
    folder.mkdir()
    if form == "npz":
        target = folder / "best.npz"
        np.savez(target, w=np.array([Payload(marker)], dtype=object))
    elif form == "safetensors":
        target = _with_matching_json(folder, pickled(marker))
    else:
        target = folder / "best.json"
        target.write_bytes(pickled(marker))
    for argv in (["classify", "eval", "--ckpt", target, "--data", target],
                 ["classify", "predict", "--ckpt", target, "abc"], ["gradcheck", "--ckpt", target]):
        assert main([str(a) for a in argv]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(folder) in err, err
    with pytest.raises(RnnlabError):
        load_checkpoint(target)
    if form == "npz":  # as classification data, too
        assert main(["classify", "train", "--data", str(target), "--out", str(tmp_path / "out")]) == 2
        assert "pickle" in capsys.readouterr().err or not (tmp_path / "out").exists()
    assert not marker.exists(), "the pickle payload was executed"


def _safetensors(header: dict, body: bytes = b"", size: int | None = None) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text) if size is None else size) + text + body


@pytest.mark.parametrize(("weights", "message"), [
    (struct.pack("<Q", 1 << 40) + b"{}", "does not fit the file"),
    (_safetensors({}, size=(1 << 40)), "does not fit the file"),
    (_safetensors({"w": {"dtype": "F64", "shape": [100_000, 100_000], "data_offsets": [0, 8]}}, b"\0" * 8),
     "does not fit its 8-byte body"),
    (_safetensors({"w": {"dtype": "F64", "shape": [-1, 2], "data_offsets": [0, 8]}}, b"\0" * 8),
     "no valid dtype, shape and offsets"),
    (_safetensors({"w": {"dtype": "O", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8),
     "no valid dtype, shape and offsets"),
    (b"\x05\x00", "not a safetensors file"),
])
def test_an_oversized_or_inconsistent_safetensors_header_is_refused_before_allocating(weights, message, tmp_path):
    _with_matching_json(tmp_path, weights)
    tracemalloc.start()
    try:
        with pytest.raises(RnnlabError, match=message):
            load_checkpoint(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"{peak:,} bytes allocated for a {len(weights)}-byte file"


def test_a_json_document_larger_than_the_limit_is_not_read(tmp_path, monkeypatch):
    import rnnlab.checkpoint as checkpoint

    save_checkpoint(tmp_path, "best", {"w": np.zeros(2)}, {"history": list(range(1000))})
    monkeypatch.setattr(checkpoint, "MAX_JSON_BYTES", 1000)
    with pytest.raises(RnnlabError, match="more than a checkpoint file may hold"):
        load_checkpoint(tmp_path)
