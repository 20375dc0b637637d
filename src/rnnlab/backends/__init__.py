"""Optional engines beside the NumPy one (PyTorch), sharing its checkpoints."""
