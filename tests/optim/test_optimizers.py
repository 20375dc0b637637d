import json
import tracemalloc

import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.nn import Parameter, parallel
from rnnlab.optim import SGD, Adagrad, Adam, AdamW, RMSprop
from rnnlab.optim import optimizer as optimizer_module

OPTIMIZERS = {"SGD": SGD, "Adagrad": Adagrad, "RMSprop": RMSprop, "Adam": Adam, "AdamW": AdamW}

# Each optimizer, plain and with each option that changes its update.
CASES = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "alpha": 0.9, "eps": 1e-6}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
]
CASE_IDS = [name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items()) for name, kwargs in CASES]

SHAPES = [(3, 4), (4,), (2, 3, 2)]


def gradient_sequence(steps: int, seed: int = 0):
    """Initial parameters, a per-element curvature and per-step noise: g_t = curvature * θ + noise_t.

    The noise shrinks tenfold halfway, so second-moment estimates fall and AMSGrad's max matters.
    """
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(shape) for shape in SHAPES]
    curvature = [rng.uniform(0.5, 2.0, shape) for shape in SHAPES]
    noise = [[rng.standard_normal(shape) * (1.0 if t < steps // 2 else 0.1) for shape in SHAPES] for t in range(steps)]
    return init, curvature, noise


def run_rnnlab(name, kwargs, steps, dtype=np.float64, order="C"):
    init, curvature, noise = gradient_sequence(steps)
    params = [Parameter(np.array(x, dtype=dtype, order=order)) for x in init]
    optimizer = OPTIMIZERS[name](params, **kwargs)
    for t in range(steps):
        if t == steps // 2:
            optimizer.lr *= 0.5  # as a scheduler would
        for p, c, n in zip(params, curvature, noise[t], strict=True):
            p.grad[...] = c * p.data + n
        optimizer.step()
    return params, optimizer


def run_torch(torch, name, kwargs, steps):
    init, curvature, noise = gradient_sequence(steps)
    params = [torch.nn.Parameter(torch.tensor(x)) for x in init]
    optimizer = getattr(torch.optim, name)(params, **kwargs, foreach=False)
    for t in range(steps):
        if t == steps // 2:
            optimizer.param_groups[0]["lr"] *= 0.5
        for p, c, n in zip(params, curvature, noise[t], strict=True):
            p.grad = torch.tensor(c) * p.detach() + torch.tensor(n)
        optimizer.step()
    return [p.detach().numpy() for p in params]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_100_steps_follow_torch_optim_within_1e_8(name, kwargs):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need the 'test' extra")
    ours, _ = run_rnnlab(name, kwargs, steps=100)
    theirs = run_torch(torch, name, kwargs, steps=100)
    for p, expected in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.data, expected, rtol=0, atol=1e-8)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_float32_parameters_and_state_stay_float32(name, kwargs):
    params, optimizer = run_rnnlab(name, kwargs, steps=5, dtype=np.float32)
    assert all(p.data.dtype == np.float32 and np.isfinite(p.data).all() for p in params)
    assert all(buf.dtype == np.float32 for buf in optimizer.state_dict()["buffers"].values())


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_float32_steps_stay_close_to_float64_steps(name, kwargs):
    singles, _ = run_rnnlab(name, kwargs, steps=20, dtype=np.float32)
    doubles, _ = run_rnnlab(name, kwargs, steps=20)
    for single, double in zip(singles, doubles, strict=True):
        np.testing.assert_allclose(single.data, double.data, atol=1e-4)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_resuming_from_state_dict_is_bit_identical_to_training_straight_through(name, kwargs):
    init, curvature, noise = gradient_sequence(20)

    def train(optimizer, params, steps):
        for t in steps:
            for p, c, n in zip(params, curvature, noise[t], strict=True):
                p.grad[...] = c * p.data + n
            optimizer.step()

    straight = [Parameter(x.copy()) for x in init]
    train(OPTIMIZERS[name](straight, **kwargs), straight, range(20))

    first = [Parameter(x.copy()) for x in init]
    optimizer = OPTIMIZERS[name](first, **kwargs)
    train(optimizer, first, range(10))
    state = optimizer.state_dict()
    saved_hyper = json.loads(json.dumps(state["hyper"]))  # the hyperparameters travel as JSON
    saved_buffers = {key: value.copy() for key, value in state["buffers"].items()}

    resumed = [Parameter(p.data.copy()) for p in first]
    fresh = OPTIMIZERS[name](resumed, **kwargs)
    fresh.load_state_dict({"hyper": saved_hyper, "buffers": saved_buffers})
    train(fresh, resumed, range(10, 20))
    for p, expected in zip(resumed, straight, strict=True):
        np.testing.assert_array_equal(p.data, expected.data)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_updates_in_small_blocks_equal_updates_on_whole_arrays(name, kwargs, monkeypatch):
    whole, _ = run_rnnlab(name, kwargs, steps=10)
    monkeypatch.setattr(optimizer_module, "BLOCK_BYTES", 40)  # 5 float64 per block: 12 elements -> 5 + 5 + 2
    blocked, _ = run_rnnlab(name, kwargs, steps=10)
    for p, expected in zip(blocked, whole, strict=True):
        np.testing.assert_array_equal(p.data, expected.data)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_blocks_updated_in_threads_equal_blocks_updated_in_turn(name, kwargs, monkeypatch):
    monkeypatch.setattr(optimizer_module, "BLOCK_BYTES", 40)  # 28 elements in 6 blocks: shared out among threads
    before = parallel.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            parallel.set_num_threads(threads)
            results.append(run_rnnlab(name, kwargs, steps=10)[0])
    finally:
        parallel.set_num_threads(before)
    for many in results[1:]:
        for p, expected in zip(many, results[0], strict=True):
            np.testing.assert_array_equal(p.data, expected.data)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_non_contiguous_parameters_are_updated_like_contiguous_ones(name, kwargs):
    contiguous, _ = run_rnnlab(name, kwargs, steps=10)
    fortran_ordered, _ = run_rnnlab(name, kwargs, steps=10, order="F")
    for p, expected in zip(fortran_ordered, contiguous, strict=True):
        np.testing.assert_array_equal(p.data, expected.data)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_step_allocates_no_parameter_sized_temporaries(name, kwargs):
    params = [Parameter(np.ones((256, 64))), Parameter(np.ones(256))]
    optimizer = OPTIMIZERS[name](params, **kwargs)
    for p in params:
        p.grad[...] = 0.5
    optimizer.step()  # the first step allocates the scratch arrays
    tracemalloc.start()
    optimizer.step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < params[0].data.nbytes / 10


def test_state_dict_is_flat_json_scalars_and_indexed_buffers():
    params = [Parameter(np.zeros((2, 3))), Parameter(np.zeros(3))]
    optimizer = Adam(params, lr=0.01, amsgrad=True)
    optimizer.step()
    state = optimizer.state_dict()
    assert json.loads(json.dumps(state["hyper"])) == {
        "lr": 0.01,
        "betas": [0.9, 0.999],
        "eps": 1e-8,
        "weight_decay": 0,
        "amsgrad": True,
        "step": 1,
    }
    assert sorted(state["buffers"]) == [
        "0.exp_avg",
        "0.exp_avg_sq",
        "0.max_exp_avg_sq",
        "1.exp_avg",
        "1.exp_avg_sq",
        "1.max_exp_avg_sq",
    ]
    assert state["buffers"]["0.exp_avg"].shape == (2, 3)


def test_state_dict_buffers_are_copies_not_views_of_live_state():
    p = Parameter(np.zeros(3))
    optimizer = SGD([p], lr=0.1, momentum=0.9)
    p.grad[:] = 1.0
    optimizer.step()
    saved = optimizer.state_dict()["buffers"]["0.momentum_buffer"].copy()
    snapshot = optimizer.state_dict()
    optimizer.step()
    np.testing.assert_array_equal(snapshot["buffers"]["0.momentum_buffer"], saved)


def test_load_state_dict_refuses_state_of_a_differently_built_optimizer():
    p = Parameter(np.zeros(3))
    with_momentum = SGD([p], lr=0.1, momentum=0.9).state_dict()
    with pytest.raises(RnnlabError, match=r"unexpected \['0.momentum_buffer'\]"):
        SGD([p], lr=0.1).load_state_dict(with_momentum)
    other_shape = SGD([Parameter(np.zeros(4))], lr=0.1, momentum=0.9)
    with pytest.raises(RnnlabError, match="has shape"):
        other_shape.load_state_dict(with_momentum)


def test_step_leaves_the_gradients_untouched_even_with_weight_decay():
    p = Parameter(np.ones(4))
    p.grad[:] = [1.0, -2.0, 3.0, -4.0]
    for optimizer in (SGD([p], lr=0.1, momentum=0.9, weight_decay=0.5), Adam([p], weight_decay=0.5)):
        optimizer.step()
        np.testing.assert_array_equal(p.grad, [1.0, -2.0, 3.0, -4.0])


def test_zero_grad_fills_every_gradient_with_zero_in_place():
    params = [Parameter(np.ones((2, 2))), Parameter(np.ones(3))]
    optimizer = SGD(params, lr=0.1)
    grads = [p.grad for p in params]
    for g in grads:
        g[...] = 7.0
    optimizer.zero_grad()
    assert all(p.grad is g and not g.any() for p, g in zip(params, grads, strict=True))


def test_step_follows_a_changed_lr_attribute():
    p = Parameter(np.zeros(1))
    optimizer = SGD([p], lr=0.1)
    p.grad[:] = 1.0
    optimizer.lr = 0.5
    optimizer.step()
    np.testing.assert_array_equal(p.data, [-0.5])


def test_defaults_are_pytorchs():
    p = [Parameter(np.zeros(1))]
    assert (Adagrad(p).lr, Adagrad(p).eps) == (1e-2, 1e-10)
    assert (RMSprop(p).lr, RMSprop(p).alpha, RMSprop(p).eps) == (1e-2, 0.99, 1e-8)
    assert (Adam(p).lr, Adam(p).betas, Adam(p).eps, Adam(p).weight_decay) == (1e-3, (0.9, 0.999), 1e-8, 0)
    assert AdamW(p).weight_decay == 1e-2


def test_invalid_lr_is_refused_with_the_value_received():
    with pytest.raises(RnnlabError) as error:
        SGD([Parameter(np.zeros(1))], lr=-1)
    assert str(error.value) == "Received an invalid value for argument `lr`, expected a non-negative number, got -1."


@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda p: SGD(p, lr=0.1, momentum=-0.5), "momentum"),
        (lambda p: SGD(p, lr=0.1, nesterov=True), "nesterov"),
        (lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
        (lambda p: SGD(p, lr="0.1"), "lr"),
        (lambda p: SGD(p, lr=float("nan")), "lr"),
        (lambda p: Adagrad(p, lr_decay=-1), "lr_decay"),
        (lambda p: Adagrad(p, initial_accumulator_value=-1), "initial_accumulator_value"),
        (lambda p: RMSprop(p, alpha=-0.1), "alpha"),
        (lambda p: RMSprop(p, eps=-1e-8), "eps"),
        (lambda p: Adam(p, betas=(0.9, 1.0)), "betas"),
        (lambda p: Adam(p, betas=(0.9,)), "betas"),
        (lambda p: AdamW(p, weight_decay=-0.01), "weight_decay"),
    ],
)
def test_invalid_hyperparameters_are_refused_naming_the_argument(make, argument):
    with pytest.raises(RnnlabError, match=f"argument `{argument}`"):
        make([Parameter(np.zeros(1))])


@pytest.mark.parametrize("params", [[], Parameter(np.zeros(1)), [np.zeros(1)], 3])
def test_params_must_be_a_nonempty_iterable_of_parameters(params):
    with pytest.raises(RnnlabError, match="argument `params`"):
        SGD(params, lr=0.1)


def test_a_parameter_listed_twice_is_refused():
    p = Parameter(np.zeros(1))
    with pytest.raises(RnnlabError, match="each Parameter once"):
        SGD([p, p], lr=0.1)


def test_parameters_become_views_of_one_flat_array_with_their_values():
    rng = np.random.default_rng(0)
    params = [Parameter(rng.normal(size=shape)) for shape in [(3, 4), (5,), (2, 2, 2)]]
    before = [p.data.copy() for p in params]
    optimizer = Adam(params, lr=0.1)
    flat = params[0].data.base
    assert flat is not None and flat.ndim == 1 and flat.size == 12 + 5 + 8
    for p, values in zip(params, before, strict=True):
        assert p.data.base is flat and p.grad.base is not None
        np.testing.assert_array_equal(p.data, values)
    params[1].grad[:] = 1.0
    optimizer.step()
    np.testing.assert_array_equal(params[0].data, before[0])  # zero gradient: Adam leaves it alone
    assert (params[1].data < before[1]).all()
    assert list(optimizer.state_dict()["buffers"]) == [f"{i}.{n}" for i in range(3) for n in ("exp_avg", "exp_avg_sq")]


def test_optimizers_of_the_same_parameters_share_their_flat_arrays():
    params = [Parameter(np.ones(3)), Parameter(np.ones((2, 2)))]
    first, second = SGD(params, lr=0.1), Adam(params, lr=0.1)
    params[0].grad[:] = 1.0
    first.step()
    second.step()
    assert (params[0].data < 0.9 - 0.09).all() and (params[1].data == 1).all()


def test_a_replaced_parameter_array_is_refused_at_the_next_step():
    w = Parameter(np.zeros(3))
    optimizer = SGD([w], lr=0.1)
    w.data = np.ones(3)
    with pytest.raises(RnnlabError, match="make the optimizer again"):
        optimizer.step()
