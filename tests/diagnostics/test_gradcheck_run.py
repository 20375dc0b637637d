"""`rnnlab gradcheck --ckpt RUN`: the networks of a saved run of each task against central differences."""

import json
from pathlib import Path

import pytest

from rnnlab.cli import main
from rnnlab.nn.layers import Linear
from tests.diagnostics.test_report import TASKS, train_tiny_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gradcheck-runs")
    return {task: train_tiny_run(task, root / task) for task in TASKS}


def gradcheck_json(run: Path, capsys) -> tuple[int, dict]:
    code = main(["gradcheck", "--ckpt", str(run), "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("task", TASKS)
def test_a_saved_run_of_each_task_passes(runs, task, capsys):
    code, document = gradcheck_json(runs[task], capsys)
    assert code == 0 and document["passed"] is True
    assert document["command"] == "gradcheck" and document["task"] == task and document["ckpt"] == str(runs[task])
    assert document["worst_relative_error"] < 1e-6 and document["threshold"] == 1e-6
    assert document["tensors"] and all(t["dtype"] == "float64" for t in document["tensors"])
    assert any(t["name"].endswith("head.weight") for t in document["tensors"])
    assert max(t["worst_relative_error"] for t in document["tensors"]) == document["worst_relative_error"]


@pytest.mark.parametrize("task", ["charlm", "forecast"])
def test_a_wrong_weight_gradient_is_caught(runs, task, capsys, monkeypatch):
    backward = Linear.backward

    def scaled(self, d_y):
        d_x = backward(self, d_y)
        self.weight.grad *= 1.01
        return d_x

    monkeypatch.setattr(Linear, "backward", scaled)
    code, document = gradcheck_json(runs[task], capsys)
    assert code == 1 and document["passed"] is False
    errors = {t["name"]: t["worst_relative_error"] for t in document["tensors"]}
    worst = max(errors, key=errors.get)
    assert worst.endswith("head.weight") and errors[worst] > 1e-3


def test_text_output_has_a_line_per_tensor_and_a_summary(runs, capsys):
    assert main(["gradcheck", "--ckpt", str(runs["classify"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("head.weight") for line in lines)
    assert "worst relative error" in lines[-1] and lines[-1].endswith("passed")


def test_a_missing_folder_or_a_non_checkpoint_is_a_one_line_error(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["gradcheck", "--ckpt", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(missing) in err
    bogus = tmp_path / "bogus"
    bogus.mkdir()
    (bogus / "best.json").write_text("{\"hello\": 1}\n", encoding="utf-8")
    assert main(["gradcheck", "--ckpt", str(bogus)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bogus) in err
