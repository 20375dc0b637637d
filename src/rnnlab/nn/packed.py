"""The product of every time step, a @ W with the same W all along, packed once by MKL when it is installed.

Each step of an LSTM or GRU multiplies the batch's states (B, H) by the same weight matrix. A BLAS
product packs its operands into cache-sized panels on every call, and for a few rows packing the
weight costs about as much as the multiply itself: 32 rows of a 256-unit LSTM, (32, 256) @ (256, 1024),
take 180-250 us in NumPy's OpenBLAS, and each shard of a batch (`parallel.py`) packs the 1 MB weight
again (16 rows: 150 us). Intel's MKL can pack the weight once per sequence (`cblas_sgemm_pack`, ~70 us)
and multiply every step by the packed copy (`cblas_sgemm_compute`): 110-150 us for those 32 rows,
~70 us for each half of them (measured 2026-12-01, one thread). NumPy cannot, so when the optional `mkl` package
is installed (`pip install "rnnlab[mkl]"`, x86-64 Linux) the recurrent layers call it here; otherwise,
or with RNNLAB_MKL=0, every step goes through NumPy as before.

Numbers: MKL computes each row of a product the same way for any number of rows from two up (checked
for shards of every size in `tests/nn/test_packed.py`), so results stay independent of the thread
count, as with OpenBLAS (`parallel.py`); they differ from OpenBLAS's in the last bits.
"""

from __future__ import annotations

import ctypes
import functools
import os
from importlib import metadata

import numpy as np

from rnnlab.nn.functional import fused, recurrent_weight

PACK_STEPS = 8  # packing costs about as much as 3-8 steps' products (32 rows or fewer): shorter loops don't pack

_ROW_MAJOR, _NO_TRANS, _TRANS, _PACKED, _B_MATRIX, _SEQUENTIAL = 101, 111, 112, 151, 162, 1  # MKL's enums


@functools.cache
def mkl() -> ctypes.CDLL | None:
    """MKL's runtime library with its packed-product functions typed, or None (not installed, or RNNLAB_MKL=0)."""
    if os.environ.get("RNNLAB_MKL", "1") == "0":
        return None
    try:
        paths = [f.locate() for f in metadata.files("mkl") or [] if f.name.startswith("libmkl_rt.so")]
        lib = ctypes.CDLL(str(paths[0]))  # a ctypes call releases Python's lock: shards multiply in parallel
        lib.MKL_Set_Threading_Layer(_SEQUENTIAL)  # one thread per call: ours share out the cores (`parallel.py`)
        c_int, pointer = ctypes.c_int, ctypes.c_void_p
        for prefix, real in (("s", ctypes.c_float), ("d", ctypes.c_double)):
            size = getattr(lib, f"cblas_{prefix}gemm_pack_get_size")
            size.restype, size.argtypes = ctypes.c_size_t, [c_int] * 4
            getattr(lib, f"cblas_{prefix}gemm_pack").argtypes = [c_int] * 6 + [real, pointer, c_int, pointer]
            getattr(lib, f"cblas_{prefix}gemm_compute").argtypes = [c_int] * 6 + [pointer, c_int, pointer, c_int,
                                                                                 real, pointer, c_int]
    except (metadata.PackageNotFoundError, IndexError, OSError, AttributeError):  # not there, or another MKL
        return None
    return lib


@functools.cache
def compute_for_kernels() -> ctypes._CFuncPtr:
    """MKL's float32 `cblas_sgemm_compute` typed with its pointers as integers, for the compiled time loops
    (`kernels.py`) to call with `array.ctypes.data`."""
    pointer, c_int = ctypes.c_size_t, ctypes.c_int
    prototype = ctypes.CFUNCTYPE(None, *[c_int] * 6, pointer, c_int, pointer, c_int, ctypes.c_float, pointer, c_int)
    return prototype(ctypes.cast(mkl().cblas_sgemm_compute, ctypes.c_void_p).value)


def loop_for(function, W: StepWeight):
    """A time loop that takes W (`lstm.lstm_sequence_forward`, say) and the W to give it: its compiled twin and
    W's packed operand when W is packed in float32 (the whole loop compiled: Python's lock is released once a run,
    not twice a step), else `function` and W itself. Both do the same products and steps, bit for bit."""
    kernel = function if W.compiled is None else fused(function, W.dtype)
    return (function, W) if kernel is function else (kernel, W.compiled)


class StepWeight:
    """W (K, N), the right operand of the product a (M, K) @ W of each of `steps` steps of up to `rows` rows.

    Packed by MKL when it is installed, the steps are PACK_STEPS or more and the rows two or more (one
    row takes MKL's matrix-vector path, as it does OpenBLAS's); else kept for NumPy, as a contiguous copy
    when the rows repay one (`recurrent_weight`).
    """

    def __init__(self, W: np.ndarray, rows: int, steps: int) -> None:
        self.K, self.N = W.shape
        lib = mkl() if steps >= PACK_STEPS and rows >= 2 and W.dtype in (np.float32, np.float64) else None
        self.W = recurrent_weight(W.T, rows * steps) if lib is None else None
        self._packed = self.compiled = None  # compiled: (MKL's compute, the packed bytes, K, N) for `loop_for`
        self.dtype = W.dtype
        if lib is not None:
            prefix = "s" if W.dtype == np.float32 else "d"
            # W or its transpose as stored: a transposed view (W_hh.T) is packed from W_hh, without a copy
            trans, W = (_TRANS, W.T) if W.T.flags.c_contiguous else (_NO_TRANS, np.ascontiguousarray(W))
            size = getattr(lib, f"cblas_{prefix}gemm_pack_get_size")(_B_MATRIX, rows, self.N, self.K)
            self._packed = np.empty(size + 64, np.uint8)  # (the bytes MKL asks for, 64-byte aligned)
            start = -self._packed.ctypes.data % 64
            self._packed = self._packed[start : start + size]
            self._address = self._packed.ctypes.data
            getattr(lib, f"cblas_{prefix}gemm_pack")(_ROW_MAJOR, _B_MATRIX, trans, rows, self.N, self.K, 1.0,
                                                     W.ctypes.data, W.shape[1], self._address)
            self._compute = getattr(lib, f"cblas_{prefix}gemm_compute")
            if prefix == "s":
                self.compiled = (compute_for_kernels(), self._packed, self.K, self.N)  # (the bytes: kept alive)

    def dot(self, a: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out (M, N) = a (M, K) @ W. a and out: rows of contiguous elements, as time steps' slices are."""
        if self._packed is None:
            return np.dot(a, self.W, out=out)
        item = self.dtype.itemsize
        if a.dtype != self.dtype or out.dtype != self.dtype or a.strides[1] != item or out.strides[1] != item:
            raise ValueError("StepWeight.dot: a and out must have the weight's dtype and contiguous rows")
        self._compute(_ROW_MAJOR, _NO_TRANS, _PACKED, len(a), self.N, self.K, a.ctypes.data, a.strides[0] // item,
                      self._address, self.N, 0.0, out.ctypes.data, out.strides[0] // item)
        return out
