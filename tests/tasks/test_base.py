"""The run folder shared by every task: nothing left behind by a run that fails before its first checkpoint."""

from rnnlab.tasks.base import RunFolder


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
