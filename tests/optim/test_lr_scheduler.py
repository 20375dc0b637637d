import json

import numpy as np
import pytest

import rnnlab.optim
from rnnlab.errors import RnnlabError
from rnnlab.nn import Parameter
from rnnlab.optim import SGD, CosineAnnealingLR, ExponentialLR, LinearLR, SequentialLR, StepLR

# Each builds a schedule from a module holding the scheduler classes (ours or torch's) and an optimizer.
SCHEDULES = {
    "step": lambda m, opt: m.StepLR(opt, step_size=7, gamma=0.5),
    "step-default-gamma": lambda m, opt: m.StepLR(opt, step_size=3),
    "exponential": lambda m, opt: m.ExponentialLR(opt, gamma=0.93),
    "cosine-past-T_max": lambda m, opt: m.CosineAnnealingLR(opt, T_max=20, eta_min=0.001),
    "cosine": lambda m, opt: m.CosineAnnealingLR(opt, T_max=50),
    "linear-default": lambda m, opt: m.LinearLR(opt),
    "linear-warmup": lambda m, opt: m.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=10),
    "linear-decay": lambda m, opt: m.LinearLR(opt, start_factor=1.0, end_factor=0.05, total_iters=30),
    "warmup-then-cosine": lambda m, opt: m.SequentialLR(
        opt, [m.LinearLR(opt, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(opt, T_max=45)], milestones=[5]
    ),
    "warmup-then-exponential": lambda m, opt: m.SequentialLR(
        opt, [m.LinearLR(opt, start_factor=0.25, total_iters=8), m.ExponentialLR(opt, gamma=0.9)], milestones=[10]
    ),
    "warmup-step-cosine": lambda m, opt: m.SequentialLR(
        opt,
        [
            m.LinearLR(opt, start_factor=0.5, total_iters=5),
            m.StepLR(opt, step_size=4, gamma=0.5),
            m.CosineAnnealingLR(opt, T_max=10, eta_min=0.01),
        ],
        milestones=[5, 20],
    ),
}


def new_optimizer(lr: float = 0.1) -> SGD:
    return SGD([Parameter(np.zeros(1))], lr=lr)


def rnnlab_lrs(schedule, optimizer, steps: int) -> list[float]:
    lrs = [schedule.get_last_lr()[0]]
    for _ in range(steps):
        optimizer.step()
        schedule.step()
        assert optimizer.lr == schedule.get_last_lr()[0]
        lrs.append(optimizer.lr)
    return lrs


@pytest.mark.parametrize("name", SCHEDULES)
def test_50_epochs_of_lr_match_torch_within_1e_12(name):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need the 'test' extra")
    optimizer = new_optimizer()
    ours = rnnlab_lrs(SCHEDULES[name](rnnlab.optim, optimizer), optimizer, steps=50)

    torch_optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    torch_schedule = SCHEDULES[name](torch.optim.lr_scheduler, torch_optimizer)
    theirs = [torch_schedule.get_last_lr()[0]]
    for _ in range(50):
        torch_optimizer.step()
        torch_schedule.step()
        theirs.append(torch_optimizer.param_groups[0]["lr"])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def test_building_a_scheduler_applies_the_epoch_0_lr_at_once():
    optimizer = new_optimizer(lr=0.2)
    LinearLR(optimizer, start_factor=0.25, total_iters=4)
    assert optimizer.lr == pytest.approx(0.05)


def test_later_schedulers_start_from_the_first_base_lr_not_the_warmed_down_one():
    optimizer = new_optimizer(lr=0.2)
    LinearLR(optimizer, start_factor=0.25, total_iters=4)
    decay = ExponentialLR(optimizer, gamma=0.5)
    assert decay.base_lr == 0.2


@pytest.mark.parametrize("name", SCHEDULES)
def test_resuming_from_json_state_gives_the_same_lrs_as_running_straight(name):
    straight_optimizer = new_optimizer()
    straight = rnnlab_lrs(SCHEDULES[name](rnnlab.optim, straight_optimizer), straight_optimizer, steps=30)

    optimizer = new_optimizer()
    schedule = SCHEDULES[name](rnnlab.optim, optimizer)
    first = rnnlab_lrs(schedule, optimizer, steps=12)
    saved = json.loads(json.dumps(schedule.state_dict()))

    resumed_optimizer = new_optimizer()
    resumed_schedule = SCHEDULES[name](rnnlab.optim, resumed_optimizer)
    resumed_schedule.load_state_dict(saved)
    assert resumed_optimizer.lr == first[-1]
    rest = rnnlab_lrs(resumed_schedule, resumed_optimizer, steps=18)
    assert first + rest[1:] == straight


def test_load_state_dict_refuses_another_schedulers_state():
    optimizer = new_optimizer()
    with pytest.raises(RnnlabError, match="does not match this ExponentialLR"):
        ExponentialLR(optimizer, gamma=0.9).load_state_dict(StepLR(optimizer, step_size=2).state_dict())


@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda opt: StepLR(opt, step_size=0), "step_size"),
        (lambda opt: StepLR(opt, step_size=2.5), "step_size"),
        (lambda opt: ExponentialLR(opt, gamma=-0.5), "gamma"),
        (lambda opt: CosineAnnealingLR(opt, T_max=0), "T_max"),
        (lambda opt: CosineAnnealingLR(opt, T_max=10, eta_min=-1.0), "eta_min"),
        (lambda opt: LinearLR(opt, start_factor=0.0), "start_factor"),
        (lambda opt: LinearLR(opt, end_factor=1.5), "end_factor"),
        (lambda opt: LinearLR(opt, total_iters=0), "total_iters"),
        (lambda opt: StepLR("not an optimizer", step_size=2), "optimizer"),
        (lambda opt: SequentialLR(opt, [], milestones=[]), "schedulers"),
        (lambda opt: SequentialLR(opt, [StepLR(new_optimizer(), 2)], milestones=[]), "schedulers"),
        (lambda opt: SequentialLR(opt, [StepLR(opt, 2), StepLR(opt, 3)], milestones=[]), "milestones"),
        (lambda opt: SequentialLR(opt, [StepLR(opt, 2), StepLR(opt, 3), StepLR(opt, 4)], [5, 5]), "milestones"),
    ],
)
def test_invalid_scheduler_arguments_are_refused_naming_the_argument(make, argument):
    with pytest.raises(RnnlabError, match=f"argument `{argument}`"):
        make(new_optimizer())
