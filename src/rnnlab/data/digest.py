"""A fingerprint of training data, so that a resumed run can tell it is given the data it started on."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


def fingerprint(*parts) -> str:
    """SHA-256 (hex) of a canonical encoding of `parts`: None, strings, arrays, and sequences of them, nested.

    Each value is tagged with its kind and length (arrays with their shape and dtype), so different
    data never encode alike; a list of numbers and the array of the same numbers differ.

    >>> fingerprint(["ab", "c"], np.array([1, 2])) == fingerprint(["ab", "c"], np.array([1, 2]))
    True
    >>> fingerprint(["ab", "c"]) == fingerprint(["a", "bc"])
    False
    """
    digest = hashlib.sha256()
    for part in parts:
        _feed(digest, part)
    return digest.hexdigest()


def _feed(digest, value) -> None:
    if value is None:
        digest.update(b"\x00")
    elif isinstance(value, str):
        encoded = value.encode("utf-8", "surrogatepass")
        digest.update(b"\x01" + len(encoded).to_bytes(8, "little") + encoded)
    elif isinstance(value, Sequence) or (isinstance(value, np.ndarray) and value.dtype == object):
        digest.update(b"\x03" + len(value).to_bytes(8, "little"))
        for item in value:
            _feed(digest, item)
    else:
        array = np.ascontiguousarray(value)
        digest.update(b"\x02" + repr((array.shape, array.dtype.str)).encode() + array.tobytes())
