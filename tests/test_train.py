import json
import math

import numpy as np
import pytest

from rnnlab import RnnlabError
from rnnlab.errors import Diverged
from rnnlab.nn import Linear, MSELoss
from rnnlab.optim import SGD, ExponentialLR
from rnnlab.train import LoopConfig, LoopState, train_loop

BATCH = 32


def _regression(seed: int = 0):
    """A float64 Linear(3 -> 1) on fixed data, and a step_fn doing forward and backward on it."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.1
    model = Linear(3, 1, dtype=np.float64, seed=seed)
    loss_fn = MSELoss()

    def step_fn() -> tuple[float, int]:
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        return loss, BATCH

    return model, step_fn


def _scripted(values: list[float], key: str = "val_loss"):
    """An evaluate() returning the given values in turn, and the list of calls made."""
    calls = []

    def evaluate() -> dict[str, float]:
        calls.append(len(calls))
        return {key: values[len(calls) - 1]}

    return evaluate, calls


@pytest.mark.parametrize("mode, monitor, sign", [("min", "val_loss", 1.0), ("max", "accuracy", -1.0)])
def test_early_stopping_stops_after_patience_evaluations(mode, monitor, sign):
    # Best at evaluation 2, then two misses, a new best at 5 (resets the count), then a miss, a tie
    # (not an improvement) and a miss: the third miss since the best stops the loop at evaluation 8.
    values = [sign * v for v in [5.0, 4.0, 4.5, 4.2, 3.0, 3.1, 3.0, 3.3, 1.0, 0.5, 0.1]]
    model, step_fn = _regression()
    evaluate, calls = _scripted(values, monitor)
    config = LoopConfig(max_steps=1000, eval_every=2, monitor=monitor, mode=mode, patience=3)
    state = train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, evaluate, config, progress=False)
    assert state.step == 16
    assert len(state.history) == len(calls) == 8
    assert [h["step"] for h in state.history] == [2, 4, 6, 8, 10, 12, 14, 16]
    assert state.best == sign * 3.0 and state.best_step == 10
    assert state.evals_since_best == 3


def test_no_early_stopping_without_patience():
    values = [1.0] + [2.0] * 10
    model, step_fn = _regression()
    evaluate, calls = _scripted(values)
    config = LoopConfig(max_steps=20, eval_every=2)
    state = train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, evaluate, config, progress=False)
    assert state.step == 20 and len(calls) == 10
    assert state.best == 1.0 and state.best_step == 2


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_loss_raises_before_the_optimizer_step(bad):
    k = 4  # the step whose loss is not finite
    model, real_step = _regression()
    initial = model.state_dict()
    seen = {}
    calls = []

    def step_fn() -> tuple[float, int]:
        calls.append(1)
        if len(calls) == k:
            seen["before"] = model.state_dict()  # the weights after step k - 1
            real_step()  # real, non-zero gradients: they must not be applied
            assert any(np.abs(p.grad).sum() > 0 for p in model.parameters())
            return bad, BATCH
        return real_step()

    evaluate, _ = _scripted([1.0] * 100)
    config = LoopConfig(max_steps=100, eval_every=50)
    state = LoopState()
    with pytest.raises(Diverged, match=f"step {k}: the loss is") as caught:
        train_loop(model, SGD(model.parameters(), lr=0.1), step_fn, evaluate, config, state=state, progress=False)
    assert caught.value.step == k and caught.value.exit_status == 1
    assert len(calls) == k
    assert state.step == k - 1
    assert state.tokens == (k - 1) * BATCH
    after = model.state_dict()
    for name in after:
        np.testing.assert_array_equal(after[name], seen["before"][name], err_msg=name)
    assert any(not np.array_equal(after[name], initial[name]) for name in after)  # the first k - 1 steps did train


def _fake_clock(monkeypatch, start: float = 1000.0) -> list[float]:
    """Replace the loop's time.perf_counter with a clock that only moves when the test moves it."""
    clock = [start]
    monkeypatch.setattr("rnnlab.train.time.perf_counter", lambda: clock[0])
    return clock


def test_minutes_budget_stops_the_loop_and_evaluates_at_the_last_step(monkeypatch):
    clock = _fake_clock(monkeypatch)
    model, real_step = _regression()

    def step_fn() -> tuple[float, int]:
        clock[0] += 10.0  # every step takes ten seconds
        return real_step()

    evaluate, calls = _scripted([1.0] * 1000)
    config = LoopConfig(max_steps=1000, eval_every=100, minutes=1.0)
    state = train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, evaluate, config, progress=False)
    assert state.step == 6  # 6 steps x 10 s = 60 s = the budget
    assert state.seconds == pytest.approx(60.0)
    assert len(calls) == 1 and [h["step"] for h in state.history] == [6]
    assert state.history[-1]["seconds"] == pytest.approx(60.0)


def test_minutes_budget_is_per_call_and_seconds_add_up_across_resumes(monkeypatch):
    # A resumed run gets the whole budget again; state.seconds keeps counting from where it was.
    clock = _fake_clock(monkeypatch)
    model, real_step = _regression()

    def step_fn() -> tuple[float, int]:
        clock[0] += 10.0
        return real_step()

    evaluate, _ = _scripted([1.0] * 1000)
    config = LoopConfig(max_steps=1000, eval_every=100, minutes=1.0)
    resumed = LoopState(step=20, seconds=30.0)
    state = train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, evaluate, config, state=resumed,
                       progress=False)
    assert state.step == 26  # 6 steps x 10 s in this call
    assert state.seconds == pytest.approx(90.0)  # 30 s before + 60 s now
    assert [h["step"] for h in state.history] == [26]
    assert state.history[-1]["seconds"] == pytest.approx(90.0)


def _one_step_with_gradients(weight_grad, bias_grad, **clipping) -> tuple[np.ndarray, np.ndarray]:
    """Run one SGD step (lr=1) with the given gradients; return how far weight and bias moved."""
    model = Linear(3, 1, dtype=np.float64, seed=0)
    optimizer = SGD(model.parameters(), lr=1.0)
    w0, b0 = model.weight.data.copy(), model.bias.data.copy()

    def step_fn() -> tuple[float, int]:
        model.weight.grad[...] = weight_grad
        model.bias.grad[...] = bias_grad
        return 1.0, 1

    evaluate, _ = _scripted([1.0])
    train_loop(model, optimizer, step_fn, evaluate, LoopConfig(max_steps=1, **clipping), progress=False)
    return model.weight.data - w0, model.bias.data - b0


def test_clip_value_clamps_each_gradient_element():
    d_w, d_b = _one_step_with_gradients([[1e6, -1e6, 0.1]], [-1e6], clip_value=0.25)
    np.testing.assert_allclose(d_w, [[-0.25, 0.25, -0.1]], rtol=1e-12)
    np.testing.assert_allclose(d_b, [0.25], rtol=1e-12)


def test_clip_norm_scales_the_global_gradient_norm_down_to_clip_norm():
    # Global norm 13e6 (weight [3, 4, 0]e6 and bias [12]e6): the step has norm 2 in the same direction.
    d_w, d_b = _one_step_with_gradients([[3e6, 4e6, 0.0]], [12e6], clip_norm=2.0)
    step = np.concatenate([d_w.ravel(), d_b])
    assert np.linalg.norm(step) == pytest.approx(2.0, rel=1e-9)
    np.testing.assert_allclose(step, -2.0 / 13 * np.array([3.0, 4.0, 0.0, 12.0]), rtol=1e-9, atol=1e-15)


def test_clip_norm_leaves_small_gradients_alone():
    d_w, d_b = _one_step_with_gradients([[0.3, -0.4, 0.0]], [0.0], clip_norm=2.0)
    np.testing.assert_allclose(d_w, [[-0.3, 0.4, 0.0]], rtol=1e-12)
    np.testing.assert_array_equal(d_b, [0.0])


def test_value_clipping_happens_before_norm_clipping():
    # Value first: [4, 3] -> [2, 2] -> norm 1 gives [1, 1] / sqrt 2. (Norm first would give [0.8, 0.6].)
    d_w, d_b = _one_step_with_gradients([[4.0, 3.0, 0.0]], [0.0], clip_value=2.0, clip_norm=1.0)
    np.testing.assert_allclose(d_w, [[-(0.5**0.5), -(0.5**0.5), 0.0]], rtol=1e-6)


def test_best_value_best_step_improved_flags_and_log_lines(tmp_path):
    values = [3.0, 2.0, 2.5, 1.0, 1.0]
    model, step_fn = _regression()
    evaluate, _ = _scripted(values)
    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 0, "from": "an earlier run"}\n', encoding="utf-8")
    seen = []

    def on_eval(state: LoopState, metrics: dict, improved: bool) -> None:
        seen.append((metrics["step"], improved, state.best, state.best_step))

    config = LoopConfig(max_steps=10, eval_every=2)
    state = train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, evaluate, config, on_eval=on_eval,
                       log_path=log, progress=False)
    assert state.step == 10
    assert seen == [(2, True, 3.0, 2), (4, True, 2.0, 4), (6, False, 2.0, 4), (8, True, 1.0, 8),
                    (10, False, 1.0, 8)]
    assert state.best == 1.0 and state.best_step == 8
    assert [h["val_loss"] for h in state.history] == values
    lines = log.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {"step": 0, "from": "an earlier run"}  # appended, not overwritten
    assert [json.loads(line) for line in lines[1:]] == state.history
    for entry in state.history:
        assert {"step", "train_loss", "lr", "val_loss", "seconds", "tokens_per_s"} <= entry.keys()
        assert entry["lr"] == 0.01 and math.isfinite(entry["train_loss"])


def test_final_step_is_evaluated_even_off_the_eval_grid():
    model, step_fn = _regression()
    evaluate, calls = _scripted([3.0, 2.0, 1.0])
    state = train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, evaluate,
                       LoopConfig(max_steps=10, eval_every=4), progress=False)
    assert [h["step"] for h in state.history] == [4, 8, 10] and len(calls) == 3


def test_training_reduces_the_loss_and_counts_tokens():
    model, step_fn = _regression()
    evaluate, _ = _scripted([1.0] * 10)
    first_loss, _ = step_fn()
    model.zero_grad()
    state = train_loop(model, SGD(model.parameters(), lr=0.1), step_fn, evaluate,
                       LoopConfig(max_steps=50, eval_every=50), progress=False)
    last_loss, _ = step_fn()
    assert last_loss < 0.01 * first_loss
    assert state.tokens == 50 * BATCH


def test_scheduler_steps_once_per_step_and_the_logged_lr_is_the_next_steps():
    model, step_fn = _regression()
    optimizer = SGD(model.parameters(), lr=0.1)
    scheduler = ExponentialLR(optimizer, gamma=0.5)
    evaluate, _ = _scripted([1.0] * 10)
    state = train_loop(model, optimizer, step_fn, evaluate, LoopConfig(max_steps=6, eval_every=2),
                       scheduler=scheduler, progress=False)
    assert [h["lr"] for h in state.history] == pytest.approx([0.1 * 0.5**s for s in (2, 4, 6)], rel=1e-12)
    assert optimizer.lr == pytest.approx(0.1 * 0.5**6, rel=1e-12)


@pytest.mark.parametrize("bad", [dict(max_steps=0), dict(eval_every=0), dict(minutes=0), dict(mode="best")])
def test_loop_config_rejects_bad_values(bad):
    with pytest.raises(RnnlabError):
        LoopConfig(**bad)


def test_a_nan_evaluation_is_never_the_best():
    model, step_fn = _regression()
    evaluate, _ = _scripted([float("nan"), 3.0, 2.0, float("nan"), 2.5])
    config = LoopConfig(max_steps=10, eval_every=2, patience=3)
    state = train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, evaluate, config, progress=False)
    assert state.best == 2.0 and state.best_step == 6


def test_early_stopping_on_a_figure_the_evaluation_does_not_give_is_an_error():
    model, step_fn = _regression()
    evaluate, _ = _scripted([1.0, 2.0], key="val_acc")
    config = LoopConfig(max_steps=10, eval_every=2, monitor="val_loss", patience=3)
    with pytest.raises(RnnlabError, match="val_loss"):
        train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, evaluate, config, progress=False)


def _round_trip(state: LoopState) -> LoopState:
    """The loop state as a checkpoint holds it."""
    return LoopState.from_json(json.loads(json.dumps(state.to_json())))


def test_a_run_that_stopped_early_stays_stopped_when_resumed():
    model, real_step = _regression()
    steps = []

    def step_fn() -> tuple[float, int]:
        steps.append(1)
        return real_step()

    evaluate, calls = _scripted([1.0, 2.0, 3.0])
    config = LoopConfig(max_steps=100, eval_every=2, patience=2)
    state = train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, evaluate, config, progress=False)
    assert state.step == 6 and state.evals_since_best == 2
    weights = model.state_dict()
    larger = LoopConfig(max_steps=200, eval_every=2, patience=2)
    resumed = train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, evaluate, larger,
                         state=_round_trip(state), progress=False)
    assert resumed.step == 6 and len(steps) == 6 and len(calls) == 3  # not one step more
    assert all(np.array_equal(weights[k], v) for k, v in model.state_dict().items())


def test_an_evaluation_made_as_time_ran_out_does_not_count_towards_patience(monkeypatch):
    # Uninterrupted: best at step 4, misses at 8 and 12 stop the run at 12. Stopped by the clock at
    # step 6 (evaluated there, off the grid, another miss) and resumed, it must stop at 12 as well.
    clock = _fake_clock(monkeypatch)
    model, real_step = _regression()

    def step_fn() -> tuple[float, int]:
        clock[0] += 10.0
        return real_step()

    evaluate, _ = _scripted([1.0, 2.0, 2.0, 2.0, 2.0])
    seen = []
    config = LoopConfig(max_steps=100, eval_every=4, minutes=1.0, patience=2)
    state = train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, evaluate, config, progress=False,
                       on_eval=lambda state, metrics, improved: seen.append(metrics))
    assert [h["step"] for h in state.history] == [4, 6]
    assert seen[1]["scheduled"] is False and "scheduled" not in seen[0]
    assert state.evals_since_best == 0 and state.best_step == 4
    unlimited = LoopConfig(max_steps=100, eval_every=4, patience=2)
    state = train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, evaluate, unlimited,
                       state=_round_trip(state), progress=False)
    assert [h["step"] for h in state.history] == [4, 6, 8, 12] and state.step == 12


def test_the_smoothed_train_loss_continues_across_a_resume():
    def train(max_steps: int, state: LoopState | None = None) -> LoopState:
        evaluate, _ = _scripted([1.0] * 10)
        return train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, evaluate,
                          LoopConfig(max_steps=max_steps, eval_every=5), state=state, progress=False)

    model, step_fn = _regression()
    whole = train(10)
    model, step_fn = _regression()
    halves = train(10, _round_trip(train(5)))
    assert [h["train_loss"] for h in halves.history] == [h["train_loss"] for h in whole.history]
    assert halves.train_loss == whole.train_loss


def _tiny_rnn(seed: int = 0, T: int = 5, B: int = 3):
    """A one-layer RNN with a linear head on its last step; step_fn on fixed random data."""
    from rnnlab.nn import RNN
    from rnnlab.nn.module import Module

    class Net(Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = RNN(2, 4, batch_first=True, seed=seed)
            self.head = Linear(4, 1, seed=seed)

        def forward(self, x):
            self.out = self.rnn(x)[0]
            return self.head(self.out[:, -1])

        def backward(self, d):
            d_out = np.zeros_like(self.out)
            d_out[:, -1] = self.head.backward(d)
            return self.rnn.backward(d_out)

    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(B, T, 2)).astype(np.float32), rng.normal(size=(B, 1)).astype(np.float32)
    model, loss_fn = Net(), MSELoss()

    def step_fn():
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        return loss, B

    return model, step_fn


def test_log_gradients_gives_a_row_per_step_before_clipping():
    model, step_fn = _tiny_rnn()
    rows = []
    config = LoopConfig(max_steps=4, eval_every=2, clip_norm=1e-6, log_gradients=True)
    train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, dict, config, progress=False,
               on_gradients=rows.append)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    names = [name for name, _ in model.named_parameters()]
    for row in rows:
        assert set(row) >= {"step", "global_norm", "norms", "clipped", "input_grad_norms"}
        assert list(row["norms"]) == names
        assert row["global_norm"] == pytest.approx(math.sqrt(sum(v * v for v in row["norms"].values())))
        assert row["clipped"] is True  # the norm is above clip_norm: the row holds it unclipped
        assert list(row["input_grad_norms"]) == ["rnn"] and len(row["input_grad_norms"]["rnn"]) == 5
        assert ("spectral_radius" in row) == (row["step"] % 2 == 0)
    radius = rows[-1]["spectral_radius"]
    assert list(radius) == ["rnn.weight_hh_l0"]
    assert radius["rnn.weight_hh_l0"] == pytest.approx(np.abs(np.linalg.eigvals(model.rnn.weight_hh_l0.data)).max(),
                                                        rel=1e-5)


def test_input_grad_norms_are_the_norms_of_d_x_per_time_step():
    from rnnlab.nn import LSTM

    lstm = LSTM(3, 4, batch_first=True, seed=0)
    lstm.record_input_grads = True
    x = np.random.default_rng(0).normal(size=(2, 6, 3)).astype(np.float32)
    out, _ = lstm(x)
    d_x = lstm.backward(np.ones_like(out))
    assert lstm.input_grad_norms.shape == (6,)
    np.testing.assert_allclose(lstm.input_grad_norms, np.sqrt((d_x.astype(np.float64) ** 2).sum(axis=(0, 2))),
                               rtol=1e-5)


def test_clipped_is_false_below_clip_norm_and_the_flag_off_never_calls_on_gradients():
    model, step_fn = _tiny_rnn()
    rows = []
    config = LoopConfig(max_steps=2, eval_every=1, clip_norm=1e6, log_gradients=True)
    train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, dict, config, progress=False,
               on_gradients=rows.append)
    assert [r["clipped"] for r in rows] == [False, False]
    model, step_fn = _tiny_rnn()
    called = []
    train_loop(model, SGD(model.parameters(), lr=0.01), step_fn, dict, LoopConfig(max_steps=2, eval_every=1),
               progress=False, on_gradients=called.append)
    assert called == [] and not model.rnn.record_input_grads


def test_a_non_finite_gradient_with_a_finite_loss_raises_too():
    model, real_step = _regression()

    def step_fn() -> tuple[float, int]:
        loss, tokens = real_step()
        model.weight.grad[0, 1] = math.nan
        return loss, tokens

    with pytest.raises(Diverged, match="step 1: a gradient is NaN or infinite"):
        train_loop(model, SGD(model.parameters(), lr=0.1), step_fn, _scripted([1.0])[0], LoopConfig(max_steps=5),
                   progress=False)


def _diverging_above(limit: float, optimizer_box: list, after_step: int = 6):
    """A regression step_fn whose loss turns NaN once past `after_step` calls while the learning rate exceeds
    `limit` (as a too-large rate would), and the model."""
    model, real_step = _regression()
    calls = []

    def step_fn() -> tuple[float, int]:
        calls.append(1)
        loss, tokens = real_step()
        return (math.nan if len(calls) > after_step and optimizer_box[0].lr > limit else loss), tokens

    return model, step_fn


@pytest.mark.parametrize("scheduled", [False, True])
def test_backoff_goes_back_to_the_last_evaluation_with_half_the_rate_and_finishes(scheduled):
    from rnnlab.trainer import Trainer

    box: list = []
    model, step_fn = _diverging_above(0.3, box)
    optimizer = SGD(model.parameters(), lr=1.0)
    box.append(optimizer)
    scheduler = ExponentialLR(optimizer, gamma=0.999) if scheduled else None
    trainer = Trainer(model, optimizer, {}, scheduler)
    config = LoopConfig(max_steps=12, eval_every=4, on_nan="backoff")
    state = trainer.train(step_fn, _scripted([1.0 / (i + 1) for i in range(20)])[0], config, progress=False)
    assert state.step == 12 and state.backoffs == 2 and state.lr_scale == 0.25
    expected = 0.25 * (0.999**12 if scheduled else 1.0)
    assert optimizer.lr == pytest.approx(expected, rel=1e-12)
    assert [row["step"] for row in state.history] == [4, 8, 12]  # the diverged steps 7 were taken back

    box.clear()
    model, step_fn = _diverging_above(0.3, box)
    optimizer = SGD(model.parameters(), lr=1.0)
    box.append(optimizer)
    with pytest.raises(Diverged, match="step 7"):
        Trainer(model, optimizer, {}).train(step_fn, _scripted([1.0] * 5)[0],
                                             LoopConfig(max_steps=12, eval_every=4), progress=False)


def test_backoff_gives_up_after_max_backoffs():
    from rnnlab.train import MAX_BACKOFFS
    from rnnlab.trainer import Trainer

    box: list = []
    model, step_fn = _diverging_above(1e-9, box)  # no rate halved a few times is small enough
    optimizer = SGD(model.parameters(), lr=1.0)
    box.append(optimizer)
    trainer = Trainer(model, optimizer, {})
    with pytest.raises(Diverged):
        trainer.train(step_fn, _scripted([1.0] * 50)[0], LoopConfig(max_steps=12, eval_every=4, on_nan="backoff"),
                      progress=False)
    assert trainer.state.backoffs == MAX_BACKOFFS


@pytest.mark.parametrize(("signum", "status"), [(2, 130), (15, 143)])
def test_a_signal_ends_the_step_checkpoints_and_raises(signum, status):
    import os
    import signal

    from rnnlab.train import TrainingInterrupted

    model, real_step = _regression()
    calls, saved = [], []

    def step_fn() -> tuple[float, int]:
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signum)  # arrives in the middle of step 3
        return real_step()

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingInterrupted) as caught:
        train_loop(model, SGD(model.parameters(), lr=0.1), step_fn, _scripted([1.0] * 9)[0],
                   LoopConfig(max_steps=20, eval_every=5), progress=False,
                   on_checkpoint=lambda state: saved.append(state.step))
    assert caught.value.step == 3 and caught.value.saved and caught.value.exit_status == status
    assert saved == [3] and len(calls) == 3
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_checkpoints_are_written_every_checkpoint_every_steps_between_evaluations():
    model, step_fn = _regression()
    saved = []
    config = LoopConfig(max_steps=20, eval_every=10, checkpoint_every=4)
    train_loop(model, SGD(model.parameters(), lr=0.1), step_fn, _scripted([1.0] * 9)[0], config, progress=False,
               on_checkpoint=lambda state: saved.append(state.step))
    assert saved == [4, 8, 12, 16]  # 20 is an evaluation (its on_eval writes the checkpoint)
