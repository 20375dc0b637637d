"""Checkpoints: arrays and settings round-trip, files get ordinary permissions, a changed weights file is caught."""

import os

import numpy as np
import pytest

from rnnlab.checkpoint import load_checkpoint, save_checkpoint
from rnnlab.errors import RnnlabError


def test_a_checkpoint_round_trips_and_its_files_get_ordinary_permissions(tmp_path):
    arrays = {"model.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "optim.step": np.array([3])}
    json_path = save_checkpoint(tmp_path, "best", arrays, {"task": "demo", "step": 3})
    loaded, meta = load_checkpoint(tmp_path, "best")
    assert meta["task"] == "demo" and meta["step"] == 3 and loaded.keys() == arrays.keys()
    for name, array in arrays.items():
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
