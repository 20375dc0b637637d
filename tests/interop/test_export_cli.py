"""`rnnlab export`: good commands write loadable files; bad ones exit 2 with one line and write nothing."""

import json

import pytest

from ..cli.test_grammar import run

pytest.importorskip("torch")


@pytest.mark.parametrize("target", ["torch", "keras", "onnx"])
def test_export_writes_a_file_for_each_target(target, charlm_run, tmp_path, capsys):
    if target == "keras":
        pytest.importorskip("h5py")
    if target == "onnx":
        pytest.importorskip("onnx")
    out = tmp_path / f"model.{target}"
    status, stdout, stderr = run(["export", "--ckpt", charlm_run, "--to", target, "--out", out, "--json"], capsys)
    assert status == 0, stderr
    result = json.loads(stdout)
    assert result["layer"] == "rnn" and out.stat().st_size > 0
    if target == "onnx" and result["onnx_max_difference"] is not None:
        assert result["onnx_max_difference"] < 1e-5
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary left behind


def test_whole_charlm_to_torch_loads_into_its_twin(charlm_run, tmp_path, capsys):
    from safetensors.numpy import load_file

    out = tmp_path / "whole.safetensors"
    assert run(["export", "--ckpt", charlm_run, "--to", "torch", "--whole", "--out", out], capsys)[0] == 0
    assert {"embedding.weight", "rnn.weight_ih_l1", "head.bias"} <= set(load_file(out))


def bad_commands(charlm_run, classify_run, tmp_path):
    (tmp_path / "taken.safetensors").write_bytes(b"keep")
    out = ["--out", tmp_path / "new.file"]
    return [
        (["--ckpt", tmp_path / "nothing", "--to", "torch", *out], "nothing"),
        (["--ckpt", charlm_run, "--to", "torch", "--out", tmp_path / "taken.safetensors"], "--force"),
        (["--ckpt", charlm_run, "--to", "torch", "--out", tmp_path], "is a folder"),
        (["--ckpt", charlm_run, "--to", "torch", "--layer", "gru", *out], "--layer: no recurrent layer 'gru'"),
        (["--ckpt", charlm_run, "--to", "keras", "--whole", *out], "--whole"),
        (["--ckpt", charlm_run, "--to", "torch", "--whole", "--layer", "rnn", *out], "--layer"),
        (["--ckpt", classify_run, "--to", "onnx", "--whole", *out], "character models"),
        (["--ckpt", charlm_run, "--to", "tensorflow", *out], "--to"),
    ]


def test_bad_export_commands_exit_2_in_one_line_and_write_nothing(charlm_run, classify_run, tmp_path, capsys):
    pytest.importorskip("onnx")
    for argv, needle in bad_commands(charlm_run, classify_run, tmp_path):
        before = sorted((p.name, p.stat().st_size) for p in tmp_path.iterdir())
        status, stdout, stderr = run(["export", *argv], capsys)
        lines = stderr.strip().splitlines()
        assert status == 2, (argv, stderr)
        assert len(lines) == 1 or "usage:" in stderr, stderr  # argparse's own usage errors have a usage line
        assert needle in lines[-1] and lines[-1].startswith("rnnlab: error:"), (argv, stderr)
        assert sorted((p.name, p.stat().st_size) for p in tmp_path.iterdir()) == before, argv


def test_missing_optional_package_names_the_extra(charlm_run, tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_h5py)
    status, _, stderr = run(["export", "--ckpt", charlm_run, "--to", "keras", "--out", tmp_path / "k.weights.h5"],
                            capsys)
    assert status == 2 and stderr.strip() == "rnnlab: error: Keras .weights.h5 files need h5py: " \
                                             "pip install 'rnnlab[keras]'"
    assert not list(tmp_path.iterdir())
