import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.metrics.forecast import mae, mape, mase, per_horizon, rmse, smape

Y_TRUE = np.array([[2.0, 4.0], [8.0, 10.0]])  # (N=2, H=2)
Y_PRED = np.array([[3.0, 2.0], [8.0, 14.0]])  # errors 1, -2, 0, 4


def test_rmse_matches_a_hand_computed_example():
    assert rmse(Y_TRUE, Y_PRED) == pytest.approx(np.sqrt((1 + 4 + 0 + 16) / 4))


def test_mae_matches_a_hand_computed_example():
    assert mae(Y_TRUE, Y_PRED) == pytest.approx((1 + 2 + 0 + 4) / 4)


def test_mape_is_in_percent():
    # |1|/2 = 50%, 2/4 = 50%, 0/8 = 0%, 4/10 = 40%
    assert mape(Y_TRUE, Y_PRED) == pytest.approx((50 + 50 + 0 + 40) / 4)


def test_mape_leaves_out_zero_actuals_and_warns():
    with pytest.warns(UserWarning, match="ignored 1 of 3"):
        value = mape(np.array([0.0, 10.0, 20.0]), np.array([5.0, 11.0, 18.0]))
    assert value == pytest.approx((10 + 10) / 2)


def test_mape_with_only_zero_actuals_is_an_error():
    with pytest.raises(RnnlabError, match="undefined"):
        mape(np.zeros(3), np.ones(3))


def test_smape_uses_the_0_to_200_definition():
    # 2*1/(2+3) = 0.4, 2*2/(4+2) = 0.667, 0, 2*4/(10+14) = 0.333
    expected = 100 * (0.4 + 4 / 6 + 0 + 8 / 24) / 4
    assert smape(Y_TRUE, Y_PRED) == pytest.approx(expected)
    assert smape(np.array([1.0]), np.array([-1.0])) == pytest.approx(200.0)
    assert smape(np.array([0.0]), np.array([0.0])) == 0.0


def test_mase_scales_by_the_in_sample_seasonal_naive_error():
    y_train = np.array([1.0, 5.0, 2.0, 7.0, 4.0, 8.0])
    # season 2: |2-1|, |7-5|, |4-2|, |8-7| -> mean 1.5; forecast MAE 1.75
    assert mase(Y_TRUE, Y_PRED, y_train, season=2) == pytest.approx(1.75 / 1.5)
    # season 1: |4|, |3|, |5|, |3|, |4| -> mean 3.8
    assert mase(Y_TRUE, Y_PRED, y_train) == pytest.approx(1.75 / 3.8)


def test_mase_refuses_a_training_series_without_seasonal_variation():
    with pytest.raises(RnnlabError, match="undefined"):
        mase(Y_TRUE, Y_PRED, np.array([1.0, 2.0, 1.0, 2.0]), season=2)


def test_per_horizon_gives_one_value_per_forecast_step():
    np.testing.assert_allclose(per_horizon(mae, Y_TRUE, Y_PRED), [(1 + 0) / 2, (2 + 4) / 2])
    y_train = np.array([1.0, 5.0, 2.0, 7.0, 4.0, 8.0])
    np.testing.assert_allclose(per_horizon(mase, Y_TRUE, Y_PRED, y_train=y_train, season=2), [0.5 / 1.5, 3.0 / 1.5])


def test_metrics_return_python_floats():
    assert all(type(metric(Y_TRUE, Y_PRED)) is float for metric in (rmse, mae, mape, smape))


def test_metrics_refuse_mismatched_shapes_and_nan():
    with pytest.raises(RnnlabError, match=r"same non-empty shape, got \(2, 2\) and \(2,\)"):
        mae(Y_TRUE, np.ones(2))
    with pytest.raises(RnnlabError, match="finite"):
        rmse(np.array([1.0, np.nan]), np.ones(2))
