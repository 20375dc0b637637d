"""Weights in and out: PyTorch state dicts (safetensors), Keras 3 layouts and `.weights.h5` files, ONNX.

    engine layer / network / trained task
        -> to_torch_state_dict, save_torch_state     torch.nn.LSTM(...).load_state_dict(...) directly
        -> to_keras, to_keras_h5                     Keras LSTM / GRU / SimpleRNN weights (gates reordered)
        -> save_onnx                                 through torch.onnx, checked with onnxruntime
    Keras arrays, layer objects, .weights.h5
        -> from_keras, from_keras_h5                 an engine LSTM / GRU / RNN

See docs/interop.md. Keras files need h5py (`pip install 'rnnlab[keras]'`); ONNX needs
PyTorch and onnx (`pip install 'rnnlab[onnx]'`); each is imported only when used.
"""

from rnnlab.interop.keras import (
    from_keras,
    from_keras_h5,
    keras_h5_bytes,
    layer_names,
    read_keras_weights,
    to_keras,
    to_keras_h5,
)
from rnnlab.interop.onnx_export import onnx_bytes, onnx_difference, save_onnx
from rnnlab.interop.torch_export import (
    load_task,
    recurrent_layers,
    save_torch_state,
    to_torch_state_dict,
    torch_layer,
)

__all__ = [
    "from_keras", "from_keras_h5", "keras_h5_bytes", "layer_names", "load_task", "onnx_bytes", "onnx_difference",
    "read_keras_weights", "recurrent_layers", "save_onnx", "save_torch_state", "to_keras", "to_keras_h5",
    "to_torch_state_dict", "torch_layer",
]
