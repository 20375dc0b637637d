"""The run folder shared by every task: nothing left behind by a run that fails before its first checkpoint."""

import pytest

from rnnlab.errors import RnnlabError
from rnnlab.tasks.runs import RunFolder


def test_a_run_that_fails_before_its_first_checkpoint_empties_the_folder_it_was_given(tmp_path):
    out = tmp_path / "run"
    out.mkdir()  # made by the user, empty
    run = RunFolder(out)
    (run.open() / "ids.bin").write_bytes(b"\x00")
    (run.path / "sub").mkdir()
    run.discard()
    assert out.is_dir() and list(out.iterdir()) == []  # the corrected command can use it again
    assert RunFolder(out).final == out


def test_a_forced_run_that_fails_before_its_first_checkpoint_leaves_the_old_run_as_it_was(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "best.json").write_text("{}")
    run = RunFolder(out, force=True)
    run.discard()  # failed before open(): nothing touched
    (run.open() / "ids.bin").write_bytes(b"\x00")
    run.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"] and [p.name for p in out.iterdir()] == ["best.json"]


def test_a_committed_forced_run_takes_the_place_of_the_old_one(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "best.json").write_text("old")
    run = RunFolder(out, force=True)
    (run.open() / "best.json").write_text("new")
    run.committed()
    run.discard()  # after a checkpoint, a failure keeps the new run
    assert (out / "best.json").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("hidden_size", [4096, 10**9])
def test_settings_that_declare_a_model_larger_than_its_weights_are_refused_before_allocating(hidden_size, tmp_path):
    import tracemalloc

    from rnnlab.checkpoint import load_checkpoint, save_checkpoint
    from rnnlab.tasks.classify import SequenceClassifier

    texts = ["aaeio", "bcdfg", "eaiou", "gfdcb"] * 5
    labels = ["v", "c", "v", "c"] * 5
    SequenceClassifier(hidden_size=4, embedding_dim=4, epochs=1).fit(texts, labels, progress=False).save(tmp_path)
    arrays, meta = load_checkpoint(tmp_path)
    meta["config"]["hidden_size"] = hidden_size  # a consistent checkpoint (checksums and all) that lies about its size
    save_checkpoint(tmp_path, "best", arrays, {k: v for k, v in meta.items() if k not in ("format", "weights",
                                                                                        "sha256")})
    tracemalloc.start()
    try:
        with pytest.raises(RnnlabError, match=str(tmp_path)):
            SequenceClassifier.load(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak:,} bytes allocated"


def test_a_setting_may_not_hide_a_method_of_its_task():
    from dataclasses import dataclass

    from rnnlab.config import Config, option
    from rnnlab.tasks.base import Task

    @dataclass(frozen=True)
    class Clashing(Config):
        score: str = option("general", "a setting named like Task methods")

    with pytest.raises(TypeError, match="score"):
        type("Bad", (Task,), {"name": "bad", "Config": Clashing, "score": lambda self: 0.0})
