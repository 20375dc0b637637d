"""Every task that trains survives kill -9 at any moment, Ctrl-C, SIGTERM, a full disk and a second process.

Each task trains a tiny model for about two seconds. Its run is killed with SIGKILL at 10 seeded random
moments after the run folder is locked (training, evaluating or writing a checkpoint), twice more inside a
checkpoint write (forced by the RNNLAB_TEST_KILL_AT_SAVE hook, between the weights' rename and the JSON's),
and stopped once by SIGINT and once by SIGTERM; after every stop the `latest` and `best` checkpoints load,
and the next command resumes the run (or starts it again when no checkpoint was written yet). The run
finished that way ends with the same weights and optimizer state, bit for bit, as one never interrupted.
"""

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnnlab.checkpoint import load_checkpoint

from .cli.test_grammar import write_conllu, write_names, write_pairs, write_series, write_text

# task: (data writer, settings of a run that trains for about two seconds, checkpointing every 20 steps or epoch)
TASKS = {
    "charlm": (write_text, ["--hidden-size", 16, "--num-layers", 1, "--embedding-dim", 8, "--seq-len", 16,
                            "--batch-size", 4, "--max-steps", 600, "--eval-every", 20, "--sample-every", 0]),
    "classify": (write_names, ["--hidden-size", 8, "--embedding-dim", 8, "--epochs", 40, "--batch-size", 8,
                               "--patience", 1000, "--no-nn"]),
    "tag": (write_conllu, ["--hidden-size", 8, "--word-dim", 8, "--char-dim", 4, "--char-hidden", 4, "--epochs", 40,
                           "--batch-size", 4, "--patience", 1000, "--minutes", "none"]),
    "forecast": (write_series, ["--lookback", 12, "--horizon", 3, "--hidden-size", 8, "--max-steps", 600,
                                "--eval-every", 20, "--patience", 1000]),
    "seq2seq": (write_pairs, ["--hidden-size", 8, "--embedding-dim", 4, "--epochs", 40, "--batch-size", 8,
                              "--sampling-rate", 0.3, "--patience", 1000, "--minutes", "none"]),  # 8 steps an epoch
}
KILLS, KILLS_IN_WRITES = 10, 2


def start(args: list, env: dict | None = None, **kwargs) -> subprocess.Popen:
    """`rnnlab ARGS` in a new process, on one thread so that its arithmetic is the same in every process."""
    return subprocess.Popen([sys.executable, "-m", "rnnlab", *map(str, args), "--quiet", "--threads", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=os.environ | (env or {}), **kwargs)


def wait_until_locked(run: Path, process: subprocess.Popen, timeout: float = 60.0) -> bool:
    """Wait until `process` holds the run folder (its pid in RUN/.lock); False if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if (run / ".lock").read_text().strip() == str(process.pid):
                return True
        except OSError:
            pass
        time.sleep(0.005)
    raise AssertionError(f"{run}: the training process never locked its run folder")


def log_lines(run: Path) -> int:
    try:
        return len((run / "log.jsonl").read_text().splitlines())
    except OSError:
        return 0


def wait_for_a_new_log_line(run: Path, process: subprocess.Popen, lines: int, timeout: float = 60.0) -> None:
    """Wait until the run's log has more than `lines` lines: the training loop is running."""
    deadline = time.monotonic() + timeout
    while log_lines(run) <= lines:
        assert process.poll() is None, "the run ended before it logged an evaluation"
        assert time.monotonic() < deadline, "no evaluation logged in time"
        time.sleep(0.005)


def next_command(task: str, data: Path, run: Path) -> list:
    """Resume the run if it has a checkpoint, else start it (again: --force replaces what a killed start left)."""
    if (run / "latest.json").is_file():
        return [task, "train", "--resume", run]
    return [task, "train", "--data", data, "--out", run, "--force", *TASKS[task][1]]


def checkpoints_load(run: Path) -> None:
    for name in ("latest", "best"):
        if (run / f"{name}.json").is_file():
            load_checkpoint(run, name)


def final_arrays(run: Path) -> dict[str, dict[str, np.ndarray]]:
    return {name: load_checkpoint(run, name)[0] for name in ("latest", "best")}


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_a_run_killed_again_and_again_ends_with_the_weights_of_one_never_stopped(task, tmp_path):
    write, settings = TASKS[task]
    data = write(tmp_path)
    reference = tmp_path / "reference"
    began = time.monotonic()
    process = start([task, "train", "--data", data, "--out", reference, *settings])
    assert wait_until_locked(reference, process)
    locked = time.monotonic()
    assert process.wait() == 0, process.stderr.read()
    span = (time.monotonic() - locked) * 0.4 / KILLS  # ten kills cannot finish the run, even on a machine 2x faster
    assert time.monotonic() - began < 60

    rng = np.random.default_rng(sum(map(ord, task)))
    run = tmp_path / "run"
    in_writes = set(rng.choice(np.arange(1, KILLS + KILLS_IN_WRITES + 2), KILLS_IN_WRITES, replace=False).tolist())
    plan = ["kill"] * KILLS + ["SIGINT", "SIGTERM"]
    rng.shuffle(plan)
    for attempt in sorted(in_writes):
        plan.insert(attempt, "in-write")
    survived = {"kill": 0, "in-write": 0, "SIGINT": 0, "SIGTERM": 0}
    for stop in plan:
        if stop == "in-write":
            process = start(next_command(task, data, run), env={"RNNLAB_TEST_KILL_AT_SAVE": str(rng.integers(1, 4))})
            assert process.wait() == -signal.SIGKILL, process.stderr.read()
        else:
            lines = log_lines(run) if (run / "latest.json").is_file() else 0
            process = start(next_command(task, data, run))
            if stop == "kill":
                locked = wait_until_locked(run, process)
                time.sleep(rng.uniform(0, span))
                assert locked and process.poll() is None, "the run finished before it could be stopped"
            else:  # while the training loop runs
                wait_for_a_new_log_line(run, process, lines)
            process.send_signal(signal.SIGKILL if stop == "kill" else getattr(signal, stop))
            status = process.wait()
            if stop == "kill":
                assert status == -signal.SIGKILL
            else:  # a whole step, a checkpoint, a one-line hint, 130 / 143
                err = process.stderr.read()
                assert status == 128 + getattr(signal, stop), err
                assert f"rnnlab {task} train --resume {run}" in err and len(err.strip().splitlines()) == 1, err
        survived[stop] += 1
        checkpoints_load(run)
    process = start(next_command(task, data, run))
    assert process.wait() == 0, process.stderr.read()

    assert survived == {"kill": KILLS, "in-write": KILLS_IN_WRITES, "SIGINT": 1, "SIGTERM": 1}
    expected, got = final_arrays(reference), final_arrays(run)
    for name in ("latest", "best"):
        assert got[name].keys() == expected[name].keys()
        for key in expected[name]:
            np.testing.assert_array_equal(got[name][key], expected[name][key], err_msg=f"{name}: {key}")
    steps = [[json.loads(line)["step"] for line in (folder / "log.jsonl").read_text().splitlines()]
             for folder in (run, reference)]
    assert steps[0] == steps[1], "lost or repeated log lines"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")], "a staging folder was left behind"
    assert not list(run.glob(".*.tmp")) and not list(run.glob("*.prev.safetensors"))


def test_a_second_process_cannot_train_into_a_locked_run_and_a_killed_one_leaves_no_stale_lock(tmp_path):
    write, settings = TASKS["charlm"]
    data, run = write(tmp_path), tmp_path / "run"
    settings = [*settings[:-6], "--max-steps", 100_000, "--eval-every", 20, "--sample-every", 0]
    first = start(["charlm", "train", "--data", data, "--out", run, *settings])
    assert wait_until_locked(run, first)
    while not (run / "latest.json").is_file():
        time.sleep(0.01)
    try:
        for command in (["charlm", "train", "--resume", run],
                        ["charlm", "train", "--data", data, "--out", run, "--force", *settings]):
            second = start(command)
            err = second.communicate(timeout=60)[1]
            assert second.returncode == 2 and f"another rnnlab process (pid {first.pid})" in err, err
    finally:
        first.kill()
        first.wait()
    resumed = start(["charlm", "train", "--resume", run, "--max-steps", 100_000])
    assert wait_until_locked(run, resumed), resumed.stderr.read()  # the dead process's lock is gone with it
    resumed.send_signal(signal.SIGINT)
    assert resumed.wait() == 130


def test_a_full_disk_fails_in_one_line_and_leaves_the_last_checkpoint_intact(tmp_path):
    write, settings = TASKS["charlm"]
    data, run = write(tmp_path), tmp_path / "run"
    small = [*settings[:-6], "--max-steps", 20, "--eval-every", 20, "--sample-every", 0]
    assert start(["charlm", "train", "--data", data, "--out", run, *small]).wait() == 0
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.name not in ("log.jsonl", ".lock")}
    limit = (run / "latest.safetensors").stat().st_size // 2  # the next weights file cannot be written whole

    def file_size_limit() -> None:  # as a full disk: a write past the limit fails (EFBIG; rnnlab ignores SIGXFSZ)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    process = start(["charlm", "train", "--resume", run, "--max-steps", 40], preexec_fn=file_size_limit)
    err = process.communicate(timeout=120)[1]
    assert process.returncode == 2, err
    assert len(err.strip().splitlines()) == 1 and "File too large" in err and ".safetensors" in err, err
    assert "Traceback" not in err
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.name not in ("log.jsonl", ".lock")}
    assert after == before  # the checkpoint as it was: no temporary, no half-written file
    load_checkpoint(run, "latest")
    assert start(["charlm", "train", "--resume", run, "--max-steps", 40]).wait() == 0  # with space, it goes on


DIVERGING = ["--cell", "rnn_relu", "--optimizer", "sgd", "--schedule", "constant", "--clip-norm", "none",
             "--hidden-size", 64, "--num-layers", 2, "--embedding-dim", 8, "--seq-len", 32, "--batch-size", 4,
             "--max-steps", 60, "--eval-every", 10, "--sample-every", 0]  # a plain ReLU RNN without clipping


def test_a_diverging_learning_rate_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    data, run = write_text(tmp_path), tmp_path / "run"
    process = start(["charlm", "train", "--data", data, "--out", run, *DIVERGING, "--lr", 5])
    err = process.communicate(timeout=120)[1]
    assert process.returncode == 1 and len(err.strip().splitlines()) == 1, err
    step = int(err.split("step ")[1].split(":")[0])
    assert "NaN or infinite" in err or "the loss is" in err
    if step > 10:  # diverged after the first checkpoint: it is there, whole, from before the step named
        arrays, meta = load_checkpoint(run, "latest")
        assert meta["loop"]["step"] < step and all(np.isfinite(a).all() for a in arrays.values())
    else:
        assert not run.exists()


def test_on_nan_backoff_finishes_a_run_whose_learning_rate_diverges(tmp_path):
    data, run = write_text(tmp_path), tmp_path / "run"
    process = start(["charlm", "train", "--data", data, "--out", run, *DIVERGING, "--lr", 10, "--on-nan", "backoff"])
    err = process.communicate(timeout=120)[1]
    assert process.returncode == 0, err
    assert "with the learning rate halved (back-off 1 of 3)" in err
    loop = load_checkpoint(run, "latest")[1]["loop"]
    assert loop["step"] == 60 and 1 <= loop["backoffs"] <= 3 and loop["lr_scale"] == 0.5 ** loop["backoffs"]
