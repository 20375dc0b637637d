"""Checkpoints: arrays in safetensors, everything else in JSON, both written atomically, both checked on load.

A checkpoint named `best` in a run folder is two files:

    best.safetensors   model weights ("model.<name>") and optimizer buffers ("optim.<name>"); its header
                       metadata holds the sha256 of the JSON document it belongs to
    best.json          config, vocabulary, optimizer and scheduler settings, RNG state, data position,
                       step, metrics, and the sha256 of the .safetensors file

Each file is written to a temporary name in the same folder and renamed into place. The two renames
are not one atomic step, so the weights being replaced are first moved to `best.prev.safetensors`
and deleted only once the new JSON is in place: a process killed at any moment leaves a JSON file
whose weights are either `best.safetensors` or `best.prev.safetensors`, and loading finds them by
their checksum.

A checkpoint from a stranger is data, never code: no pickle anywhere; the JSON file's size and the
safetensors header (size, dtypes, shapes, offsets) are checked against fixed bounds and the file's
own size before anything is parsed or allocated; each file's checksum is recorded in the other, so
a truncated, corrupted or edited file is refused; a newer format version is refused by name.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import secrets
import signal
import struct
from pathlib import Path

import numpy as np
from safetensors.numpy import load, save

from rnnlab.errors import RnnlabError

FORMAT_NAME, FORMAT_VERSION = "rnnlab-checkpoint", 1
FORMAT = f"{FORMAT_NAME}-{FORMAT_VERSION}"
MAX_JSON_BYTES = 256 << 20  # a checkpoint's JSON document (config, vocabulary, history): far above any real one
MAX_HEADER_BYTES = 16 << 20  # safetensors' own reader refuses 100 MB; a real header is a few kB
MAX_TENSORS = 100_000
DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
          "U16": 2, "U32": 4, "U64": 8}
META_KEY = "rnnlab.json_sha256"  # in the safetensors header metadata: the JSON document the weights belong to
DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)

# Test hook: kill this process with SIGKILL in the middle of the Nth checkpoint save (after the weights are in
# place, before the JSON is), to prove that such a kill leaves a loadable checkpoint. Unset in normal use.
_KILL_AT_SAVE = int(os.environ.get("RNNLAB_TEST_KILL_AT_SAVE", "0"))
_saves = 0


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename.

    A full disk (or a file-size limit) raises an `RnnlabError` naming the file; whatever `path` held
    before is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        # Not tempfile.mkstemp: its files are private (0600); mode 0o666 lets the umask decide, as for any file.
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except OSError as error:
        temp.unlink(missing_ok=True)
        if error.errno in DISK_FULL:
            raise RnnlabError(f"{path}: cannot write {len(data):,} bytes ({os.strerror(error.errno)}); "
                              f"the previous {path.name} is intact") from None
        raise
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def remove_temporaries(folder: Path) -> None:
    """Delete the temporary files an interrupted `atomic_write_bytes` left in `folder` (call while it is locked)."""
    for temp in Path(folder).glob(".*.tmp"):
        temp.unlink(missing_ok=True)


def save_checkpoint(folder: str | Path, name: str, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Save `arrays` and JSON-able `meta` as `folder/name.safetensors` + `folder/name.json`."""
    global _saves
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights_path, previous = folder / f"{name}.safetensors", folder / f"{name}.prev.safetensors"
    document = json.loads(json.dumps({"format": FORMAT, "weights": weights_path.name, **meta}))  # as read back
    # Serialised in memory and written by `atomic_write_bytes`: safetensors' save_file makes private (0600) files.
    # (np.asarray, not np.ascontiguousarray, which turns a 0-d buffer such as num_batches_tracked into shape (1,))
    weights = save({k: np.asarray(v, order="C") for k, v in arrays.items()}, metadata={META_KEY: _digest(document)})
    document["sha256"] = hashlib.sha256(weights).hexdigest()
    json_path = folder / f"{name}.json"
    if previous.exists() and _recorded_sha256(json_path) == _sha256(previous):
        pass  # a save killed before its JSON: the current JSON's weights are kept as .prev already
    elif weights_path.exists() and json_path.exists():
        os.replace(weights_path, previous)  # what the current JSON names, until the new JSON is in place
    try:
        atomic_write_bytes(weights_path, weights)
    except BaseException:
        if previous.exists():
            os.replace(previous, weights_path)
        raise
    _saves += 1
    if _saves == _KILL_AT_SAVE:
        os.kill(os.getpid(), signal.SIGKILL)
    atomic_write_bytes(json_path, (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    previous.unlink(missing_ok=True)
    return json_path


def resolve(path: str | Path, name: str = "best") -> Path:
    """The JSON file a user means: a run folder (its `name`.json), a .json or a .safetensors file."""
    path = Path(path)
    if path.is_dir():
        path = path / f"{name}.json"
    elif path.suffix == ".safetensors":
        path = path.with_suffix(".json")
    if not path.is_file():
        raise RnnlabError(f"{path}: no checkpoint there (expected a run folder or a checkpoint .json file)")
    return path


def load_checkpoint(path: str | Path, name: str = "best") -> tuple[dict[str, np.ndarray], dict]:
    """Load (arrays, meta) from a run folder or a checkpoint file, checking format, bounds and checksums."""
    json_path = resolve(path, name)
    meta = _read_document(json_path)
    weights = meta.get("weights")
    if not isinstance(weights, str) or Path(weights).name != weights or not weights.endswith(".safetensors"):
        raise RnnlabError(f"{json_path}: names no weights file beside it ({weights!r})")
    if not isinstance(meta.get("sha256"), str):
        raise RnnlabError(f"{json_path}: has no checksum of its weights")
    candidates = [json_path.parent / weights, json_path.parent / weights.replace(".safetensors", ".prev.safetensors")]
    for weights_path in candidates:  # the second one: a save killed between its two renames
        if weights_path.is_file():
            data = _read_bounded(weights_path, None)
            if hashlib.sha256(data).hexdigest() == meta["sha256"]:
                break
    else:
        if not candidates[0].is_file():
            raise RnnlabError(f"{candidates[0]}: weights file missing for checkpoint {json_path.name}")
        raise RnnlabError(f"{candidates[0]}: checksum does not match {json_path.name} (file changed or truncated)")
    header = check_safetensors_header(data, weights_path)
    if header.get("__metadata__", {}).get(META_KEY) != _digest({k: v for k, v in meta.items() if k != "sha256"}):
        raise RnnlabError(f"{json_path}: does not match its weights file (the JSON was changed or damaged)")
    try:
        arrays = load(data)
    except Exception as error:  # safetensors raises its own error types; the header was checked above
        raise RnnlabError(f"{weights_path}: cannot read weights ({error})") from None
    return arrays, meta


def check_safetensors_header(data: bytes, path: Path) -> dict:
    """The header of the safetensors bytes `data`, refused unless sizes, dtypes, shapes and offsets add up.

    Every declared tensor must lie inside the file, so nothing larger than the file is ever allocated.
    """
    if len(data) < 8:
        raise RnnlabError(f"{path}: not a safetensors file ({len(data)} bytes)")
    (size,) = struct.unpack("<Q", data[:8])
    if size > min(MAX_HEADER_BYTES, len(data) - 8):
        raise RnnlabError(f"{path}: safetensors header of {size:,} bytes does not fit the file or the "
                          f"{MAX_HEADER_BYTES:,}-byte limit")
    try:
        header = json.loads(data[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise RnnlabError(f"{path}: safetensors header is not JSON") from None
    if not isinstance(header, dict) or len(header) > MAX_TENSORS:
        raise RnnlabError(f"{path}: safetensors header is not a table of at most {MAX_TENSORS:,} tensors")
    body = len(data) - 8 - size
    for key, entry in header.items():
        if key == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise RnnlabError(f"{path}: safetensors metadata is not a table of strings")
            continue
        if not (isinstance(entry, dict) and entry.get("dtype") in DTYPES and _is_ints(entry.get("shape"))
                and _is_ints(entry.get("data_offsets")) and len(entry["data_offsets"]) == 2):
            raise RnnlabError(f"{path}: tensor {key!r} has no valid dtype, shape and offsets")
        start, end = entry["data_offsets"]
        if not start <= end <= body or end - start != math.prod(entry["shape"]) * DTYPES[entry["dtype"]]:
            raise RnnlabError(f"{path}: tensor {key!r} declares shape {entry['shape']} at bytes {start}..{end}, "
                              f"which does not fit its {body:,}-byte body")
    return header


def split_prefix(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays under `prefix.` with the prefix removed: `split_prefix(a, "model")`."""
    start = len(prefix) + 1
    return {k[start:]: v for k, v in arrays.items() if k.startswith(prefix + ".")}


def with_prefix(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}.{k}": v for k, v in arrays.items()}


def _read_document(json_path: Path) -> dict:
    """The checkpoint's JSON document, checked for size, syntax and format version before use."""
    try:
        meta = json.loads(_read_bounded(json_path, MAX_JSON_BYTES).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise RnnlabError(f"{json_path}: not an rnnlab checkpoint (not UTF-8 JSON)") from None
    found = meta.get("format") if isinstance(meta, dict) else None
    if not isinstance(found, str) or not found.startswith(FORMAT_NAME + "-"):
        raise RnnlabError(f"{json_path}: not an rnnlab checkpoint (format {found!r})")
    version = found.removeprefix(FORMAT_NAME + "-")
    if version != str(FORMAT_VERSION):
        newer = version.isdigit() and int(version) > FORMAT_VERSION
        raise RnnlabError(f"{json_path}: checkpoint format {version!r} " + (
            f"was written by a newer rnnlab; this one reads format {FORMAT_VERSION}: upgrade rnnlab"
            if newer else f"is not one this rnnlab reads (format {FORMAT_VERSION})"))
    return meta


def _read_bounded(path: Path, limit: int | None) -> bytes:
    size = path.stat().st_size
    if limit is not None and size > limit:
        raise RnnlabError(f"{path}: {size:,} bytes is more than a checkpoint file may hold ({limit:,})")
    return path.read_bytes()


def _recorded_sha256(json_path: Path) -> str | None:
    """The weights checksum a checkpoint's JSON records, None if it cannot be read."""
    try:
        return json.loads(_read_bounded(json_path, MAX_JSON_BYTES)).get("sha256")
    except (OSError, ValueError, AttributeError, RnnlabError):
        return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digest(document: dict) -> str:
    """sha256 of a JSON document in canonical form (sorted keys), as a checkpoint records it."""
    return hashlib.sha256(json.dumps(document, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _is_ints(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
