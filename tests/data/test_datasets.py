import io
import struct
import zipfile

import numpy as np
import pytest

from rnnlab.data.datasets import load_dataset
from rnnlab.errors import RnnlabError


def idx(shape: tuple[int, ...]) -> bytes:
    count = 1
    for size in shape:
        count *= size
    return bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + bytes(count)


@pytest.mark.parametrize(("images", "labels", "message"), [
    ((3, 2, 2), (2,), r"train-images-idx3-ubyte: 3 images, but train-labels-idx1-ubyte holds 2 labels"),
    ((3, 4), (3,), r"train-images-idx3-ubyte: expected images of shape \(N, rows, cols\), got shape \(3, 4\)"),
    ((3, 2, 2), (3, 1), r"train-labels-idx1-ubyte: expected labels of shape \(N,\), got shape \(3, 1\)"),
])
def test_idx_images_and_labels_must_agree(tmp_path, images, labels, message):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx(images))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx(labels))
    with pytest.raises(RnnlabError, match=message):
        load_dataset(tmp_path / "train-images-idx3-ubyte")


def test_an_npz_array_declaring_more_than_its_archive_holds_is_refused_before_allocating(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    labels = io.BytesIO()
    np.save(labels, np.arange(3))
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        archive.writestr("X.npy", header.getvalue() + bytes(80))
        archive.writestr("y.npy", labels.getvalue())
    with pytest.raises(RnnlabError, match=r"huge\.npz: X\.npy declares shape \(1000000000000,\) of float64"):
        load_dataset(tmp_path / "huge.npz")


def test_a_compressed_npz_still_reads(tmp_path):
    np.savez_compressed(tmp_path / "small.npz", X=np.zeros((4, 5, 2)), y=np.array([0, 1, 0, 1]))
    data = load_dataset(tmp_path / "small.npz")
    assert len(data) == 4 and data.inputs[0].shape == (5, 2)
