"""Optimizers, gradient clipping and learning-rate schedules, with PyTorch's names and update rules."""

from rnnlab.optim.clip import clip_grad_norm_, clip_grad_value_
from rnnlab.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    SequentialLR,
    StepLR,
)
from rnnlab.optim.optimizer import Optimizer
from rnnlab.optim.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LinearLR",
    "Optimizer",
    "RMSprop",
    "SequentialLR",
    "StepLR",
    "clip_grad_norm_",
    "clip_grad_value_",
]
