import json

import numpy as np
import pytest

from rnnlab.data.transforms import Differencing, LogTransform, SeasonalDifferencing, TargetTransform
from rnnlab.errors import RnnlabError


def test_log_transform_round_trips_and_refuses_negative_values():
    x = np.array([0.0, 1.0, 1e6])
    transform = LogTransform().fit(x)
    np.testing.assert_allclose(transform.inverse_transform(transform.transform(x)), x)
    with pytest.raises(RnnlabError, match="non-negative"):
        transform.transform(np.array([1.0, -0.5]))


@pytest.mark.parametrize("order", [1, 2, 3])
def test_differencing_inverse_from_the_history_recovers_the_future_levels(order):
    series = np.cumsum(np.cumsum(np.random.default_rng(3).normal(size=(30, 2)), axis=0), axis=0)
    differencing = Differencing(order=order)
    diffs = differencing.transform(series)  # diffs[t - order] belongs to series[t]
    assert diffs.shape == (30 - order, 2)
    cutoff = 20
    future_diffs = diffs[cutoff - order:]
    np.testing.assert_allclose(differencing.inverse_transform(future_diffs, history=series[:cutoff]), series[cutoff:])


def test_differencing_inverse_needs_order_observed_values():
    with pytest.raises(RnnlabError, match="needs the last 2 observed values"):
        Differencing(order=2).inverse_transform(np.ones(3), history=np.ones(1))


def test_seasonal_differencing_inverse_continues_past_one_season_with_its_own_values():
    series = np.random.default_rng(0).normal(size=40).cumsum()
    seasonal = SeasonalDifferencing(lag=4)
    diffs = seasonal.transform(series)  # diffs[t - 4] belongs to series[t]
    cutoff = 25
    future = seasonal.inverse_transform(diffs[cutoff - 4:], history=series[:cutoff])  # 15 steps, over 3 seasons
    np.testing.assert_allclose(future, series[cutoff:])


def test_a_lag_of_zero_is_refused_naming_the_argument():
    with pytest.raises(RnnlabError, match="`lag`"):
        SeasonalDifferencing(lag=0)
    with pytest.raises(RnnlabError, match="`order`"):
        Differencing(order=0)


PIPELINES = [dict(log=True, seasonal_lag=0, difference=0), dict(log=False, seasonal_lag=12, difference=0),
             dict(log=False, seasonal_lag=0, difference=2), dict(log=True, seasonal_lag=12, difference=1)]


@pytest.mark.parametrize("settings", PIPELINES, ids=["log", "seasonal", "difference 2", "all three"])
def test_the_pipeline_inverts_its_transform_from_any_origin(settings):
    t = np.arange(120.0)
    y = 50 + t + 10 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(1).normal(0, 1, 120)  # positive
    chain = TargetTransform.build(**settings).fit(y[:80])
    z = chain.transform(y)
    assert z.shape == y.shape
    assert np.isnan(z[:chain.lost]).all() and not np.isnan(z[chain.lost:]).any()
    for origin in (chain.lost + 1, 80, 100):
        np.testing.assert_allclose(chain.inverse(z[origin: origin + 15], history=y[:origin]), y[origin: origin + 15])


def test_the_pipeline_round_trips_through_json():
    chain = TargetTransform.build(log=True, seasonal_lag=7, difference=1)
    saved = json.loads(json.dumps(chain.to_json()))
    assert saved == {"type": "TargetTransform", "steps": [{"type": "LogTransform"},
                                                          {"type": "SeasonalDifferencing", "lag": 7},
                                                          {"type": "Differencing", "order": 1}]}
    rebuilt = TargetTransform.from_json(saved)
    assert (rebuilt.lost, rebuilt.seasonal_lag) == (8, 7)
    y = np.arange(1.0, 40.0) ** 1.5
    np.testing.assert_array_equal(rebuilt.transform(y), chain.transform(y))


def test_the_pipeline_refuses_negative_values_under_log_and_an_unknown_step():
    with pytest.raises(RnnlabError, match="non-negative"):
        TargetTransform.build(log=True, seasonal_lag=0, difference=0).fit(np.array([1.0, -2.0, 3.0]))
    with pytest.raises(RnnlabError, match="unknown transform type 'BoxCox'"):
        TargetTransform.from_json({"type": "TargetTransform", "steps": [{"type": "BoxCox"}]})


def test_an_empty_pipeline_is_the_identity():
    chain = TargetTransform.build(log=False, seasonal_lag=0, difference=0).fit(np.ones(3))
    assert chain.lost == 0 and chain.seasonal_lag == 0
    np.testing.assert_array_equal(chain.inverse(np.array([4.0, 5.0]), history=np.ones(3)), [4.0, 5.0])
