"""Checkpoints: arrays in safetensors, everything else in JSON, both written atomically.

A checkpoint named `best` in a run folder is two files:

    best.safetensors   model weights ("model.<name>") and optimizer buffers ("optim.<name>")
    best.json          config, vocabulary, optimizer and scheduler settings, RNG state,
                       data position, step, metrics, and the sha256 of the .safetensors file

Each file is written to a temporary name in the same folder and renamed into place, so an
interrupted save never leaves a half-written checkpoint; the checksum in the JSON catches
a weights file that does not belong to it. No pickle anywhere: a checkpoint is data.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save

from rnnlab.errors import RnnlabError

FORMAT = "rnnlab-checkpoint-1"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # Not tempfile.mkstemp: its files are private (0600); mode 0o666 lets the umask decide, as for any file.
    handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def save_checkpoint(folder: str | Path, name: str, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Save `arrays` and JSON-able `meta` as `folder/name.safetensors` + `folder/name.json`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights_path = folder / f"{name}.safetensors"
    # Serialised in memory and written by `atomic_write_bytes`: safetensors' save_file makes private (0600) files.
    weights = save({k: np.ascontiguousarray(v) for k, v in arrays.items()})
    digest = hashlib.sha256(weights).hexdigest()
    atomic_write_bytes(weights_path, weights)
    document = {"format": FORMAT, "weights": weights_path.name, "sha256": digest, **meta}
    json_path = folder / f"{name}.json"
    atomic_write_bytes(json_path, (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
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
    """Load (arrays, meta) from a run folder or a checkpoint file, checking format and checksum."""
    json_path = resolve(path, name)
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RnnlabError(f"{json_path}: not a readable checkpoint ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RnnlabError(f"{json_path}: not an rnnlab checkpoint (format {meta.get('format')!r})")
    weights_path = json_path.parent / meta["weights"]
    if not weights_path.is_file():
        raise RnnlabError(f"{weights_path}: weights file missing for checkpoint {json_path.name}")
    if _sha256(weights_path) != meta["sha256"]:
        raise RnnlabError(f"{weights_path}: checksum does not match {json_path.name} (file changed or truncated)")
    try:
        arrays = load_file(str(weights_path))
    except Exception as error:  # safetensors raises its own error types
        raise RnnlabError(f"{weights_path}: cannot read weights ({error})") from None
    return arrays, meta


def split_prefix(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays under `prefix.` with the prefix removed: `split_prefix(a, "model")`."""
    start = len(prefix) + 1
    return {k[start:]: v for k, v in arrays.items() if k.startswith(prefix + ".")}


def with_prefix(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}.{k}": v for k, v in arrays.items()}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
