"""`RunFolder`: where a training run writes, locked while it does, never replaced by accident.

A run folder holds a run's checkpoints (`best`, `latest`), its log.jsonl and whatever the command
adds (plots, metrics). Nothing is created before the inputs are valid, an existing run is replaced
only with `force` and only once the new run has a checkpoint, and a run killed at any moment leaves
a folder that the next command resumes or replaces.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from rnnlab.checkpoint import atomic_write_bytes, remove_temporaries
from rnnlab.errors import RnnlabError

try:
    import fcntl  # POSIX: run folders are locked while a run writes in them
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None

LOCK = ".lock"  # in a run folder: locked (flock) by the process training there; the lock dies with the process


class RunFolder:
    """Where a training run writes: nothing is created until `open()`, nothing replaced until a checkpoint.

    A new run needs a missing or empty folder. With `force`, an existing run is replaced only once
    the new one has written its first checkpoint: until then the new run lives in a hidden sibling
    folder, and `committed()` swaps the two by renames (the old one is then deleted). Write through
    `path` at the time of writing, since it changes at the swap.

    `open()` locks the folder (a `.lock` file, flock'ed) so that a second process cannot train into it;
    the lock goes with the process, so a killed run leaves no stale lock. A folder holding only what a run
    killed before its first checkpoint left (its lock file, temporaries, log lines) counts as a run to replace.
    """

    def __init__(self, path: str | Path, force: bool = False, resume: bool = False) -> None:
        self.final, self.force, self.resume = Path(path), force, resume
        if resume:
            if not (self.final / "latest.json").is_file():
                raise RnnlabError(f"{self.final}: no run to resume there (no latest.json)")
        elif self.final.exists() and not self.final.is_dir():
            raise RnnlabError(f"{self.final}: exists and is not a folder; choose another --out")
        elif self._occupied() and not force:
            unfinished = (self.final / LOCK).exists() and not self._is_run()
            raise RnnlabError(f"{self.final}: " + ("holds a run stopped before its first checkpoint (pass --force to "
                                                   "start it again, or choose another --out)" if unfinished else
                                                   "run folder exists and is not empty (--resume it, pass --force to "
                                                   "replace it, or choose another --out)"))
        elif self._occupied() and not (self._is_run() or (self.final / LOCK).exists()):
            raise RnnlabError(f"{self.final}: not an rnnlab run folder (no best.json or latest.json); --force "
                              f"replaces runs only, so choose another --out")
        self._locks: list[int] = []  # file descriptors holding the locks
        self._made_locks: list[Path] = []  # lock files this run created (removed again if it fails unsaved)
        if (self.final / LOCK).is_file():  # refused now, before the command reads its data, if another process
            self._try_lock(os.open(self.final / LOCK, os.O_RDONLY), self.final, keep=False)  # trains there
        self.path = self.final
        self._staged = self._created = self._checkpointed = False
        self._before: set[Path] | None = None  # what an existing folder held when the run opened it

    def _occupied(self) -> bool:
        return self.final.is_dir() and any(p.name != LOCK and not p.name.endswith(".tmp")
                                           for p in self.final.iterdir())

    def _is_run(self) -> bool:
        return any((self.final / f"{name}.json").is_file() for name in ("best", "latest"))

    def open(self) -> Path:
        """Create and lock the folder the run writes into (a hidden staging folder when replacing a run)."""
        before = set(self.final.iterdir()) if self.final.is_dir() else set()
        if self.final.is_dir():
            self._lock(self.final)  # also when replacing it: no one else may be training there
        if not self.resume and self._occupied():
            self._remove_stale_siblings()
            self.path = self.final.parent / f".{self.final.name}.new-{secrets.token_hex(4)}"
            self._staged = True
        self._created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        if self.path != self.final or self._created:
            self._lock(self.path)
        remove_temporaries(self.path)  # what a killed save left
        self._before = before if self.path == self.final else set()
        return self.path

    def _remove_stale_siblings(self) -> None:
        """The staging and old folders of --force runs killed before they finished their swap (no process holds them:
        the final folder is locked by this one)."""
        for sibling in [*self.final.parent.glob(f".{self.final.name}.new-*"),
                        *self.final.parent.glob(f".{self.final.name}.old-*")]:
            shutil.rmtree(sibling, ignore_errors=True)

    def _lock(self, folder: Path) -> None:
        if not (folder / LOCK).exists():
            self._made_locks.append(folder / LOCK)
        handle = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
        self._try_lock(handle, folder, keep=True)
        os.ftruncate(handle, 0)
        os.write(handle, f"{os.getpid()}\n".encode("ascii"))

    def _try_lock(self, handle: int, folder: Path, keep: bool) -> None:
        """Lock the open lock file `handle` (kept in `_locks`, or released again), or refuse: another process has it."""
        if fcntl is None:
            os.close(handle)
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(handle, 32).decode("ascii", "replace").strip() or "?"
            os.close(handle)
            self.close()
            raise RnnlabError(f"{folder}: another rnnlab process (pid {holder}) is training in this run folder; "
                              f"wait for it, or choose another --out") from None
        if keep:
            self._locks.append(handle)
        else:
            os.close(handle)

    def close(self) -> None:
        """Release the locks (the lock file stays: it is how a later process sees the folder is free)."""
        for handle in self._locks:
            os.close(handle)
        self._locks = []

    def committed(self) -> None:
        """Call after each checkpoint: the first one under --force puts the new run in place of the old."""
        self._checkpointed = True
        if not self._staged:
            return
        old = self.final.parent / f".{self.final.name}.old-{secrets.token_hex(4)}"
        self.final.rename(old)
        self.path.rename(self.final)
        self.path, self._staged = self.final, False
        shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        """After a failure: remove what this run created if it never wrote a checkpoint (an old run stays)."""
        if not self._checkpointed:
            for lock in self._made_locks:
                lock.unlink(missing_ok=True)
        if not self._checkpointed and (self._staged or self._created):
            shutil.rmtree(self.path, ignore_errors=True)
        elif not self._checkpointed and not self.resume and self._before is not None:
            for made in set(self.path.iterdir()) - self._before:  # in a folder that was there (empty) before
                if made.is_dir() and not made.is_symlink():
                    shutil.rmtree(made, ignore_errors=True)
                else:
                    made.unlink(missing_ok=True)
        self.path, self._staged, self._created, self._before = self.final, False, False, None

    def trim_logs(self, step: int) -> None:
        """On resume: drop the log lines written after the checkpoint at `step` (work a killed run lost, to be done
        again) and a line cut short by the kill."""
        for name in ("log.jsonl", "gradients.jsonl"):
            path = self.path / name
            if not path.is_file():
                continue
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            kept = [line for line in lines if _step_of(line) is not None and _step_of(line) <= step]
            if kept != lines:
                atomic_write_bytes(path, "".join(kept).encode("utf-8"))

    def append_log(self, metrics: dict[str, Any]) -> None:
        """One JSON line per evaluation in `log.jsonl`."""
        self.append_jsonl("log.jsonl", metrics)

    def append_jsonl(self, name: str, row: dict[str, Any]) -> None:
        """`row` as one JSON line at the end of `name` (a resumed run appends)."""
        with open(self.path / name, "a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")

    def write_json(self, name: str, document: dict[str, Any]) -> Path:
        path = self.path / name
        atomic_write_bytes(path, (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
        return path



def _step_of(line: str) -> int | None:
    """The "step" of a complete JSON log line, None for a line cut short or without one."""
    if not line.endswith("\n"):
        return None
    try:
        step = json.loads(line).get("step")
    except (json.JSONDecodeError, AttributeError):
        return None
    return step if isinstance(step, int) else None
