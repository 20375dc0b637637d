"""`rnnlab export --ckpt RUN --to torch|keras|onnx --out FILE`: a run's weights for PyTorch, Keras or ONNX.

torch: a safetensors state dict of the recurrent layer (loads into torch.nn.LSTM / GRU / RNN), or with
--whole of the whole network; keras: a `.weights.h5` of the recurrent layer; onnx: the recurrent layer,
or with --whole a character model, checked with onnxruntime when it is installed. Nothing is written
when anything fails; an existing --out is replaced only with --force.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnlab.cli.common import Output, add_json, add_threads
from rnnlab.errors import RnnlabError

TARGETS = ("torch", "keras", "onnx")
ONNX_TOLERANCE = 1e-4  # float32 through onnxruntime: the differences seen are ~1e-7


def register(sub) -> None:
    p = sub.add_parser("export", help="write a run's weights for PyTorch (safetensors), Keras (.weights.h5) or ONNX")
    p.add_argument("--ckpt", metavar="RUN", required=True, help="the run folder (its best checkpoint)")
    p.add_argument("--to", choices=TARGETS, required=True, help="torch, keras or onnx")
    p.add_argument("--out", metavar="FILE", required=True, help="the file to write")
    p.add_argument("--layer", metavar="NAME", help="which recurrent layer (rnn, lstm, char_lstm, net1.rnn, ...); "
                   "needed only when the run has several")
    p.add_argument("--whole", action="store_true", help="the whole network instead of one recurrent layer "
                   "(torch: every parameter; onnx: character models)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    add_threads(p)
    add_json(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnnlab.interop import keras, onnx_export, torch_export

    out = Path(args.out)
    if out.is_dir():
        raise RnnlabError(f"--out {out}: is a folder; give a file name")
    if out.exists() and not args.force:
        raise RnnlabError(f"--out {out}: exists; add --force to replace it")
    if args.whole and args.layer is not None:
        raise RnnlabError("--whole exports every layer: drop --layer, or --whole")
    if args.whole and args.to == "keras":
        raise RnnlabError("--whole: Keras export is of a recurrent layer; drop --whole")
    task = torch_export.load_task(args.ckpt)
    if args.whole:
        name, what = "", "the whole network"
    else:
        name, layer = _layer(task, args.layer)
        what = f"recurrent layer {name} ({type(layer).__name__} {layer.input_size} -> {layer.hidden_size}, " \
               f"{layer.num_layers} layer{'s' if layer.num_layers > 1 else ''}" \
               f"{', bidirectional' if layer.bidirectional else ''})"
    result = {"command": "export", "ckpt": str(args.ckpt), "to": args.to, "out": str(out), "layer": name or None}
    if args.to == "torch":
        state = torch_export.to_torch_state_dict(task, name or None, args.whole)
        data, result["tensors"] = torch_export.torch_state_bytes(state), len(state)
    elif args.to == "keras":
        data = keras.keras_h5_bytes(layer)
    else:
        data = onnx_export.onnx_bytes(task, name or None, args.whole)
        result["onnx_max_difference"] = _check_onnx(data, task, name or None, args.whole)
    from rnnlab.checkpoint import atomic_write_bytes

    atomic_write_bytes(out, data)
    output = Output(args.json)
    output.say(f"wrote {out}: {what} of {args.ckpt} for {args.to}")
    if result.get("onnx_max_difference") is not None:
        output.say(f"checked with onnxruntime: max |difference| from rnnlab {result['onnx_max_difference']:.1e}")
    output.result(result)
    return 0


def _layer(task, name: str | None):
    from rnnlab.interop.torch_export import pick_layer

    return pick_layer(task, name, what="--layer")


def _check_onnx(data: bytes, task, layer: str | None, whole: bool) -> float | None:
    """onnxruntime's max difference from the engine, or None without onnxruntime; refuses a file that disagrees."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    from rnnlab.interop.onnx_export import onnx_difference

    difference = onnx_difference(data, task, layer, whole)
    if not difference <= ONNX_TOLERANCE:
        raise RnnlabError(f"--to onnx: onnxruntime's outputs differ from rnnlab's by {difference:.1e} "
                          f"(over {ONNX_TOLERANCE:.0e}); nothing written")
    return difference
