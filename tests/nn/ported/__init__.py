"""PyTorch's own recurrent tests, ported (issue 15): replayed on rnnlab's engine, torch (CPU, float64) the reference.

Replayed (test module here: PyTorch test):
  test_module_db.py, from torch/testing/_internal/common_modules.py:
    module_inputs_torch_nn_RNN_GRU (RNN and GRU, also with_packed_sequence), module_inputs_torch_nn_LSTM,
    module_inputs_torch_nn_RNN_GRU_Cell, module_inputs_torch_nn_LSTMCell (with the no_batch_dim_reference_*
    checks), module_error_inputs_torch_nn_RNN_GRU (RNN, GRU, LSTM), module_error_inputs_torch_nn_RNN_GRU_Cell,
    module_error_inputs_torch_nn_LSTMCell.
  test_nn_rnn.py, from test/test_nn.py: test_rnn_args_check, test_projections_lstm_args_check,
    test_rnn_initial_hidden_state, test_projections_lstm_initial_hidden_state, test_projections_errors_on_gru_and_rnn,
    test_cudnn_forward_exception (its assertions run on CPU), test_error_RNN_seq_len_zero, test_RNN_input_size_zero,
    test_RNN_dropout, test_RNN_dropout_state, test_RNN_change_dropout (cuDNN-marked in PyTorch, device-free here),
    test_RNN_nonlinearity, test_RNN_nonlinearity_passed_as_arg, test_rnn_retain_variables,
    test_LSTM_grad_and_gradgrad and test_GRU_grad_and_gradgrad (the gradcheck half),
    test_RNN_cpu_vs_cudnn_no_dropout (torch's CPU path standing in for cuDNN).
  test_cells_and_packing.py: test_RNN_cell, test_LSTM_cell, test_LSTM_cell_forward_input_size,
    test_LSTM_cell_forward_hidden_size, test_RNN_cell_no_broadcasting, test_lstmcell_backward_only_one_output_grad,
    test_variable_sequence (test/test_nn.py); test_wrong_order, test_pad_sequence_with_tensor_sequences,
    test_pad_sequence_with_non_iterable_sequences, test_total_length, test_pad_sequence, test_pack_sequence,
    test_unpack_sequence, test_pack_padded_sequence (test/nn/test_packed_sequence.py).

Replayed with a deliberate difference:
  module_error_inputs_torch_nn_RNN_GRU's dtype mismatch: PyTorch refuses float64 input to a float32 model; NumPy's
    default dtype is float64, so the engine casts real input to the layer's dtype (and refuses complex input with
    PyTorch's message).

Skipped, with the reason:
  test_RNN_cpu_vs_cudnn_with_dropout: compares dropout=1 runs on CPU and cuDNN; dropout masks cannot match
    torch's generator, and p = 1 is covered by test_RNN_dropout / test_RNN_change_dropout.
  test_rnn_check_device, test_projections_lstm_check_device, test_pack_sequence_batch_sizes_throw,
    test_partial_flat_weights, test_rnn_fused, test_cudnn_rnn_dropout_states_device: CUDA / multi-GPU only.
  test_cudnn_weight_format, test_cudnn_weight_tying, test_RNN_cudnn_weight_norm: cuDNN's flat weight buffer.
  test_rnn_weight_norm: torch.nn.utils.weight_norm, no counterpart in the engine.
  the gradgradcheck half of test_LSTM_grad_and_gradgrad / test_GRU_grad_and_gradgrad: no second derivatives.
  test_LSTM_differentiable_backward_using_oneDNN: oneDNN (mkldnn) only.
  test_type_casts, test_to, test_to_memory_format (test_packed_sequence.py): torch tensor types, devices and
    memory formats; a PackedSequence here holds a NumPy array.
  test_unpad_sequence: rnnlab.nn.utils.rnn has no unpad_sequence (not in issue 15's list).
  TestModule's test_pickle / test_repr / test_non_contiguous_tensors / test_memory_format / test_cpu_gpu_parity /
    test_gradgrad and half-precision (float16/bfloat16) variants: JIT, devices, half precision or torch-only
    machinery; float32 and float64 are the engine's dtypes.
  module_inputs' cells with hidden_size 0 and test_RNN_cell_forward_zero_hidden_size: the engine requires
    hidden_size >= 1 (PyTorch's layers do too).
"""
