"""torchrun on the CPU (gloo): two processes train as one process over their combined batch (issue 14, acceptance 2).

`torchrun --standalone --nproc_per_node 2 -m rnnlab TASK train ... --engine torch --batch-size B` ends
with the weights and optimizer state of one process trained with --batch-size 2B, to float tolerance;
only rank 0 writes the run; the checkpoint resumes in one process.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")

from rnnlab.checkpoint import load_checkpoint  # noqa: E402

from ..cli.test_grammar import write_names, write_text  # noqa: E402

TASKS = {  # task: (data writer, settings, --batch-size per process)
    "charlm": (write_text, ["--hidden-size", 16, "--num-layers", 2, "--embedding-dim", 8, "--seq-len", 16,
                            "--max-steps", 20, "--eval-every", 10, "--sample-every", 0, "--dropout", 0], 4),
    "classify": (write_names, ["--hidden-size", 8, "--embedding-dim", 8, "--epochs", 2, "--patience", 100,
                               "--dropout", 0, "--char-dropout", 0, "--no-nn"], 8),
}


def rnnlab(args: list, processes: int = 1) -> subprocess.CompletedProcess:
    launch = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)] if processes > 1 \
        else []
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *launch, "-m", "rnnlab", *map(str, args), "--quiet", "--threads", "1"],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_two_processes_train_as_one_over_the_combined_batch_and_resume_in_one(task, tmp_path):
    write, settings, batch = TASKS[task]
    data = write(tmp_path)
    common = [task, "train", "--data", data, "--engine", "torch", *settings]
    done = rnnlab([*common, "--out", tmp_path / "ddp", "--batch-size", batch], processes=2)
    assert done.returncode == 0, done.stderr
    assert "torchrun: 2 processes" in done.stdout
    done = rnnlab([*common, "--out", tmp_path / "one", "--batch-size", 2 * batch])
    assert done.returncode == 0, done.stderr
    (ddp, ddp_meta), (one, one_meta) = (load_checkpoint(tmp_path / run, "latest") for run in ("ddp", "one"))
    assert ddp_meta.get("loop", ddp_meta.get("training", {}).get("loop"))["step"] == \
        one_meta.get("loop", one_meta.get("training", {}).get("loop"))["step"]
    for key in ddp:
        if not key.startswith("carry."):  # (the state carried between batches is each process's own streams)
            np.testing.assert_allclose(ddp[key], one[key], rtol=1e-4, atol=1e-6, err_msg=key)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "rank 1 wrote beside the run"
    if task == "charlm":  # on one process now: the text is cut into other streams, which start again
        done = rnnlab([task, "train", "--resume", tmp_path / "ddp", "--max-steps", 30])
        assert done.returncode == 0, done.stderr
        return
    done = rnnlab([task, "train", "--resume", tmp_path / "ddp", "--epochs", 3])  # its epochs were cut for 2
    assert done.returncode == 2 and "resume it with 2 (torchrun --nproc_per_node 2" in done.stderr, done.stderr
    done = rnnlab([task, "train", "--resume", tmp_path / "ddp", "--epochs", 3], processes=2)
    assert done.returncode == 0, done.stderr


def test_a_run_resumed_under_torchrun_ends_where_an_uninterrupted_one_ends(tmp_path):
    """Every process's carried state is saved (the whole global batch's) and each takes its own back."""
    write, settings, batch = TASKS["charlm"]
    data = write(tmp_path)
    common = ["charlm", "train", "--data", data, "--engine", "torch", "--batch-size", batch, *settings,
              "--schedule", "constant"]  # (a schedule over max_steps would stretch when the budget grows)
    assert rnnlab([*common, "--out", tmp_path / "whole"], processes=2).returncode == 0
    split = [*common, "--out", tmp_path / "split", "--max-steps", 10]
    assert rnnlab(split, processes=2).returncode == 0
    done = rnnlab(["charlm", "train", "--resume", tmp_path / "split", "--max-steps", 20], processes=2)
    assert done.returncode == 0, done.stderr
    (a, _), (b, _) = (load_checkpoint(tmp_path / run, "latest") for run in ("whole", "split"))
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-5, atol=1e-7, err_msg=key)


def test_a_summed_loss_is_the_sum_over_every_process(tmp_path):
    """--loss-reduction sum with SGD (no clipping, where the gradient's scale shows): 2 x B equals 1 x 2B."""
    write, settings, batch = TASKS["charlm"]
    data = write(tmp_path)
    common = ["charlm", "train", "--data", data, "--engine", "torch", *settings, "--loss-reduction", "sum",
              "--optimizer", "sgd", "--lr", 0.01, "--clip-norm", "none", "--schedule", "constant"]
    assert rnnlab([*common, "--out", tmp_path / "ddp", "--batch-size", batch], processes=2).returncode == 0
    assert rnnlab([*common, "--out", tmp_path / "one", "--batch-size", 2 * batch]).returncode == 0
    (a, _), (b, _) = (load_checkpoint(tmp_path / run, "latest") for run in ("ddp", "one"))
    for key in a:
        if key.startswith("model."):
            np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-6, err_msg=key)
