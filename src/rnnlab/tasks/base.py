"""The contract every task follows: scikit-learn's estimator manners, one checkpoint format, one run folder.

A task is a subclass of `Task` with two class attributes,

    class SequenceClassifier(Task):
        name = "classify"              # the command (`rnnlab classify`) and the checkpoint's "task"
        Config = ClassifyConfig        # a frozen `rnnlab.config.Config` of hyperparameters

and from `Config` it gets keyword-only constructor arguments (one per field, same defaults, checked
at construction), `get_params` / `set_params` (so `sklearn.base.clone`, `cross_val_score` and
`GridSearchCV` work), `config` (the current settings as a `Config`), `save(run_dir, name)`, `Task.load(run_dir, name)`
and `Task.resume(run_dir, **budget)`. The subclass writes the learning:

    fit(...) -> self            learns; with `run_dir`, writes `best` / `latest` checkpoints and log.jsonl there
    evaluate(...) -> dict       plain JSON-ready numbers under the keys docs/cli.md names
    predict(...)                the task's answer
    score(...) -> float         the main figure, higher is better (accuracy; negative MAE for forecasts)
    _state() / _restore()       what a checkpoint holds beyond the config, and how to read it back
    _training_state()           what `latest` adds to continue the run (optimizer, generators, loop state)
    _restore_training()         how `resume` takes that back (or refuses a run it cannot continue)

Learned state ends in `_` (`classes_`, `model_`); `history_` is the list of per-evaluation dicts.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Self

import numpy as np

from rnnlab.backends import distributed
from rnnlab.checkpoint import load_checkpoint, resolve, save_checkpoint, split_prefix
from rnnlab.config import RESUME_SETTINGS, Config
from rnnlab.errors import InvalidArgument, RnnlabError
from rnnlab.nn.module import Module, parameter_budget
from rnnlab.tasks.runs import RunFolder

BUDGETS = ("max_steps", "epochs", "minutes")  # the budget a resumed run may raise
RESUME_CHANGES = (*BUDGETS, *RESUME_SETTINGS)  # the only settings `resume` may change


class ResumedRun(NamedTuple):
    """The run a task was resumed from: its folder and its `latest` checkpoint."""

    folder: Path
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]


class Task:
    """Base class of the tasks; see the module docstring for the contract."""

    name: ClassVar[str]
    Config: ClassVar[type[Config]]
    _resumed_from: ResumedRun | None = None  # set by `resume`, cleared once `fit` has continued the run
    batches_per_epoch: ClassVar[bool] = False  # training counts epochs of global batches: resumed on as many processes

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Config" not in cls.__dict__:
            return
        clashes = [f.name for f in fields(cls.Config) if hasattr(cls, f.name)]
        if clashes:  # a setting is an instance attribute: it would hide the method or class attribute of its name
            raise TypeError(f"{cls.__name__}: settings {clashes} hide attributes of the same name")
        hints = typing.get_type_hints(cls.Config)
        keywords = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                      annotation=hints[f.name]) for f in fields(cls.Config)]

        def __init__(self, **params: Any) -> None:
            Task.__init__(self, **params)

        __init__.__signature__ = inspect.Signature(  # what help(), IDEs and scikit-learn's clone read
            [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *keywords])
        __init__.__doc__ = f"Hyperparameters: the fields of `{cls.Config.__name__}`, as keywords."
        __init__.__qualname__ = f"{cls.__qualname__}.__init__"
        cls.__init__ = __init__

    def __init__(self, **params: Any) -> None:
        self._check_names(params)
        for f in fields(self.Config):
            setattr(self, f.name, params.get(f.name, f.default))
        self._check_engine(self.config)  # checks every value now, where it enters

    # ---- hyperparameters ---------------------------------------------------------------------------------
    @classmethod
    def _check_names(cls, params: dict[str, Any]) -> None:
        known = [f.name for f in fields(cls.Config)]
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise RnnlabError(f"{cls.__name__} has no setting {', '.join(map(repr, unknown))}; "
                              f"its settings are {', '.join(known)}")

    @property
    def config(self) -> Config:
        """The current hyperparameters as a checked, printable `Config` (reflects `set_params`)."""
        return self.Config(**self.get_params())

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments as given (scikit-learn's contract)."""
        return {f.name: getattr(self, f.name) for f in fields(self.Config)}

    def set_params(self, **params: Any) -> Self:
        """Change hyperparameters (checked at once); takes effect at the next `fit`."""
        self._check_names(params)
        self._check_engine(self.Config(**(self.get_params() | params)))
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        changed = {f.name: getattr(self, f.name) for f in fields(self.Config) if getattr(self, f.name) != f.default}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    def __sklearn_tags__(self):  # read only by scikit-learn, so imported only then
        from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags

        kind = getattr(self, "_estimator_type", None)
        return Tags(estimator_type=kind, target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags() if kind == "classifier" else None,
                    regressor_tags=RegressorTags() if kind == "regressor" else None)

    # ---- engines -----------------------------------------------------------------------------------------
    @staticmethod
    def _check_engine(c: Config) -> None:
        """The engine settings agree with each other, and with this machine (PyTorch, CUDA) for engine='torch'."""
        if c.engine == "numpy":
            if distributed.world()[1] > 1:
                raise InvalidArgument("engine", "'torch' under torchrun (DistributedDataParallel is PyTorch's)",
                                      c.engine)
            if c.device != "cpu":
                raise InvalidArgument("device", "'cpu' with engine='numpy' (the other devices are torch's)", c.device)
            if c.amp:
                raise InvalidArgument("amp", "False with engine='numpy' (autocast is torch's)", c.amp)
            return
        if c.log_gradients:
            raise InvalidArgument("log_gradients", "False with engine='torch' (gradients per time step are logged "
                                  "by the NumPy engine)", c.log_gradients)
        from rnnlab.backends.torch_engine import torch_device

        torch_device(c.device)

    def _on_engine(self, net: Module, seed: int | None = None) -> Module:
        """`net` itself (engine='numpy'), or computed by PyTorch on `device` (engine='torch'): same weights, names;
        PyTorch's random numbers (its dropout masks) seeded with `seed` (default: the config's), except in a
        resumed run, which draws on from the state its checkpoint saved."""
        c = self.config
        if c.engine == "numpy":
            return net
        from rnnlab.backends.torch_engine import TorchEngine

        seed = None if self._resumed_from is not None else c.seed if seed is None else seed
        return TorchEngine(net, device=c.device, amp=c.amp, seed=seed)

    # ---- checkpoints -------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not self.is_fitted():
            raise RnnlabError(f"this {type(self).__name__} is not fitted yet: call fit() or "
                              f"{type(self).__name__}.load(run_dir) first")

    def is_fitted(self) -> bool:
        return hasattr(self, "history_")

    def save(self, run_dir: str | Path, name: str = "best", training: bool = False) -> Path:
        """Write `run_dir/name.safetensors` (arrays) and `run_dir/name.json` (config and state); returns the JSON.

        With `training`, the checkpoint also holds what continuing the run needs (`_training_state`):
        the `latest` checkpoint of a resumable run.
        """
        self._check_fitted()
        arrays, meta = self._state()
        if training:
            more_arrays, more_meta = self._training_state()
            arrays, meta = arrays | more_arrays, meta | more_meta
        meta["processes"] = distributed.world()[1]  # under torchrun: how many processes shared each batch
        if self.config.engine == "torch":  # PyTorch draws the dropout masks: its random state, for an exact resume
            from rnnlab.backends.torch_engine import rng_state

            meta["torch_rng"] = rng_state()
        return save_checkpoint(run_dir, name, arrays, {"task": self.name, "config": self.config.to_json(), **meta})

    @classmethod
    def load(cls, run_dir: str | Path, name: str = "best", *, engine: str = "numpy", device: str = "cpu",
             amp: bool = False) -> Self:
        """The model saved as `name` in a run folder (or a checkpoint .json file), computed by `engine` (whichever
        engine trained it: a checkpoint is the same for both)."""
        arrays, meta = load_checkpoint(run_dir, name)
        with _checkpoint_fields(run_dir, arrays):
            task = cls(**(vars(cls._saved_config(run_dir, meta)) | {"engine": engine, "device": device, "amp": amp}))
            task._restore(arrays, meta)
        return task

    @classmethod
    def resume(cls, run_dir: str | Path, **budget: Any) -> Self:
        """The run in `run_dir` as its `latest` checkpoint left it; `fit(same data, run_dir=run_dir)` continues it.

        Only the budget (`max_steps`, `epochs` or `minutes`, whichever the task has), `on_nan` and the engine
        settings (`engine`, `device`, `amp`: a run trained by one engine continues on the other) may change.
        """
        cls._check_names(budget)
        arrays, meta = load_checkpoint(run_dir, "latest")
        with _checkpoint_fields(run_dir, arrays):
            processes = int(meta.get("processes", 1))
            if cls.batches_per_epoch and processes != distributed.world()[1]:
                raise RnnlabError(f"{run_dir}: the run was trained by {processes} process(es), and its epochs are "
                                  f"cut into batches for them; resume it with {processes} (torchrun "
                                  f"--nproc_per_node {processes}; 1: without torchrun)")
            task = cls(**resume_settings(cls._saved_config(run_dir, meta), budget))
            task._restore(arrays, meta)
            task._resumed_from = ResumedRun(resolve(run_dir, "latest").parent, arrays, meta)
            task._restore_training(arrays, meta)
            if task.config.engine == "torch" and "torch_rng" in meta:
                from rnnlab.backends.torch_engine import set_rng_state

                set_rng_state(meta["torch_rng"])
        return task

    @classmethod
    def _saved_config(cls, run_dir: str | Path, meta: dict[str, Any]) -> Config:
        if meta.get("task") != cls.name:
            raise RnnlabError(f"{run_dir}: not a {cls.name} checkpoint (it is {meta.get('task')!r})")
        if not isinstance(meta.get("config"), dict):
            raise RnnlabError(f"{run_dir}: checkpoint has no settings")
        try:
            return cls.Config.from_json(meta["config"])
        except RnnlabError as error:
            raise RnnlabError(f"{run_dir}: checkpoint settings refused: {error}") from None

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """(arrays, JSON-ready meta) that `_restore` reads back; `task` and `config` are added by `save`."""
        raise NotImplementedError

    def _restore(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        raise NotImplementedError

    def _training_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """(arrays, meta) that `save(training=True)` adds to `_state()` so that `resume` can continue the run."""
        raise NotImplementedError

    def _restore_training(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Called by `resume` after `_restore`, `_resumed_from` set: take back the training state, or refuse."""

    # ---- one network trained by epochs of queued batches (tag, seq2seq) ---------------------------------------
    def _resume_batches(self, trainer: Any, queue: list[np.ndarray]) -> None:
        """On a resumed run, put back what `_batches_training_state` saved: the trainer's state (its best weights
        from the `best` checkpoint) and, in `queue`, the batches left in the epoch."""
        arrays, training = self._resumed_from.arrays, self._resumed_from.meta["training"]
        best = split_prefix(load_checkpoint(self._resumed_from.folder, "best")[0], "model")
        trainer.restore(arrays, {**training, "generators": training}, best=best, weights="model")
        queue.extend(np.array(batch, np.int64) for batch in training["queue"])

    def _batches_training_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """`_training_state` of such a task: optimizer buffers (`optim.*`; the weights are `model.*`, the best ones
        in `best`), loop state, generators and the batches left in the epoch (`self._trainer`, `self._queue`)."""
        saved = self._trainer.meta()
        training = {"loop": saved["loop"], "optimizer": saved["optimizer"], **saved["generators"],
                    "queue": [batch.tolist() for batch in self._queue]}
        return self._trainer.arrays(weights=False), {"training": training}

    def _require_training_state(self, meta: dict[str, Any]) -> None:
        """`_restore_training` of such a task: only a run with its training state in `latest` (the trainer takes
        it back in `fit`; `fit` with the same data continues the step counter, log.jsonl, optimizer, learning
        rate, random generators and position in the epoch)."""
        if "training" not in meta:
            raise RnnlabError(f"{self._resumed_from.folder}: not a {self.name} run that can be resumed (no training "
                              f"state in latest.json)")

    # ---- runs --------------------------------------------------------------------------------------------
    def _refuse_other_data(self, digest: str, saved: str, source: Any) -> None:
        """On a resumed run, refuse training data whose fingerprint differs from the one it was started on."""
        if self._resumed_from is not None and digest != saved:
            raise RnnlabError(f"the training data differ from those the run was started on ({source})")

    @staticmethod
    def _gradients_to(run: RunFolder) -> Callable[[dict], None]:
        """The `on_gradients` of a run with `log_gradients`: each row a line of RUN/gradients.jsonl."""
        return lambda row: run.append_jsonl("gradients.jsonl", row)

    def _latest_to(self, run: RunFolder) -> Callable[[Any], None]:
        """The `on_checkpoint` of a resumable run: write its `latest` checkpoint (between evaluations, on a signal);
        before the first evaluation, the weights so far are `best` too (the only ones a stopped run has)."""
        return lambda state: self._checkpoints(run, best=not (run.path / "best.json").is_file())

    def _checkpoints(self, run: RunFolder, best: bool) -> None:
        """A resumable run's checkpoints now: `best` too when the model holds its best weights, then `latest`
        (with the training state); the first one puts a --force run in place."""
        if best:
            self.save(run.path, "best")
        self.save(run.path, "latest", training=True)
        run.committed()

    def _run_folder(self, run_dir: str | Path | RunFolder | None) -> tuple[RunFolder | None, bool]:
        """(the RunFolder `fit` writes to, whether `fit` made it from a path): checked now, nothing created yet."""
        if run_dir is None or isinstance(run_dir, RunFolder):
            return run_dir, False
        return RunFolder(run_dir, resume=self._resumed_from is not None), True

    @contextmanager
    def _writing(self, run: RunFolder | None, own: bool) -> Iterator[None]:
        """Open (and lock) `run` for the training inside, unlocked after; if it fails, a folder `fit` made goes
        again unless it holds a checkpoint (a RunFolder given by the caller is the caller's to discard). Once
        done, the run is no longer one to resume."""
        try:
            if run is not None:
                run.open()
                if self._resumed_from is not None:
                    meta = self._resumed_from.meta
                    run.trim_logs((meta.get("training") or meta)["loop"]["step"])
            yield
        except BaseException:
            if own:
                run.discard()
            raise
        finally:
            if run is not None:
                run.close()
        self._resumed_from = None


@contextmanager
def _checkpoint_fields(run_dir: str | Path, arrays: dict[str, np.ndarray]) -> Iterator[None]:
    """Reading a checkpoint's fields: a missing or ill-typed one (a file that passed its checksums but was not
    written by this rnnlab) is an error about the checkpoint, in one line, not a traceback; settings that would
    build a model larger than the `arrays` it holds are refused before allocating it."""
    try:
        with parameter_budget(sum(a.size for a in arrays.values()), str(run_dir)):
            yield
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as error:
        raise RnnlabError(f"{run_dir}: checkpoint has a missing or invalid field ({error!r})") from None


def resume_settings(saved: Config, budget: dict[str, Any]) -> dict[str, Any]:
    """The saved settings with a larger budget; any other change is refused (a resumed run is the same run)."""
    other = sorted(k for k in budget if k not in RESUME_CHANGES)
    if other:
        raise RnnlabError(f"a resumed run keeps its settings; only {', '.join(RESUME_CHANGES)} may change, "
                          f"not {', '.join(other)}")
    for name in ("max_steps", "epochs"):  # the total for the whole run: less than before would undo nothing
        before, after = getattr(saved, name, None), budget.get(name)
        if after is not None and before is not None and after < before:
            raise InvalidArgument(name, f"at least the run's {before} (the budget of the whole run)", after)
    return vars(saved) | {k: v for k, v in budget.items() if hasattr(saved, k)}
