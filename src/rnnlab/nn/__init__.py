"""The glass-box engine: layers with hand-written forward and backward passes.

Every layer keeps what its backward needs during `forward`; `backward(d_out)` returns
the gradient for its input and adds parameter gradients to each `Parameter.grad`.
"""

from rnnlab.nn.attention import AdditiveAttention, Attention, LuongAttention
from rnnlab.nn.batchnorm import BatchNorm1d
from rnnlab.nn.cells import GRUCell, LSTMCell, RNNCell, RNNCellBase
from rnnlab.nn.conv import Conv1d
from rnnlab.nn.decoder import AttentionDecoderStep
from rnnlab.nn.layernorm_lstm import LayerNormLSTM as LayerNormLSTM
from rnnlab.nn.layers import Dropout, Embedding, Linear
from rnnlab.nn.losses import CrossEntropyLoss, MSELoss, log_softmax, softmax
from rnnlab.nn.module import Module, Parameter
from rnnlab.nn.pooling import LastPool, MaxPool, MeanPool
from rnnlab.nn.recurrent import GRU, LSTM, RNN, RNNBase

__all__ = [
    "AdditiveAttention", "Attention", "AttentionDecoderStep", "LuongAttention",
    "BatchNorm1d", "Conv1d",
    "GRU", "LSTM", "RNN", "CrossEntropyLoss", "Dropout", "Embedding", "GRUCell", "LSTMCell", "LastPool", "Linear",
    "MSELoss", "RNNCell", "RNNCellBase",
    "MaxPool", "MeanPool", "Module", "Parameter", "RNNBase", "log_softmax", "softmax",
]
