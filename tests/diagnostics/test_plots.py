import numpy as np
import pytest

from rnnlab.diagnostics.plots import plot_backtest, plot_forecast
from rnnlab.errors import RnnlabError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MONTHS = np.datetime64("2000-01") + np.arange(30)  # (30,) datetime64[M]


def assert_png(path):
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_SIGNATURE)


def test_plot_forecast_writes_a_png_with_actual_and_a_labelled_interval(tmp_path):
    history, forecast = np.sin(np.arange(24.0)), np.zeros(6)
    path = plot_forecast(
        tmp_path / "forecast.png",
        MONTHS,
        history,
        forecast,
        actual=np.ones(6),
        intervals=(forecast - 1, forecast + 1),
        title="airline",
        label="80% interval (residual quantiles)",
    )
    assert path == tmp_path / "forecast.png"
    assert_png(path)
    assert [p.name for p in tmp_path.iterdir()] == ["forecast.png"]  # no temporary file left behind


def test_plot_forecast_accepts_plain_step_numbers_as_times(tmp_path):
    assert_png(plot_forecast(tmp_path / "f.png", np.arange(10), np.ones(8), np.ones(2)))


def test_plot_forecast_refuses_an_interval_without_a_label(tmp_path):
    with pytest.raises(RnnlabError, match="label"):
        plot_forecast(tmp_path / "f.png", MONTHS, np.ones(24), np.ones(6), intervals=(np.zeros(6), np.ones(6)))
    assert not list(tmp_path.iterdir())


def test_plot_forecast_refuses_times_that_do_not_cover_history_and_forecast(tmp_path):
    with pytest.raises(RnnlabError, match=r"times \(T \+ H,\)"):
        plot_forecast(tmp_path / "f.png", MONTHS[:29], np.ones(24), np.ones(6))


def test_plot_backtest_writes_a_png_with_one_forecast_per_origin(tmp_path):
    values = np.sin(np.arange(30.0))
    windows = [(18, values[18:24] + 0.1), (24, values[24:30] - 0.1)]
    assert_png(plot_backtest(tmp_path / "backtest.png", MONTHS, values, windows, title="backtest"))


def test_plot_backtest_refuses_a_window_running_past_the_series(tmp_path):
    with pytest.raises(RnnlabError, match="window 0"):
        plot_backtest(tmp_path / "b.png", MONTHS, np.ones(30), [(27, np.ones(6))])


def test_plotting_into_a_missing_directory_is_a_user_error(tmp_path):
    with pytest.raises(RnnlabError, match="does not exist"):
        plot_forecast(tmp_path / "absent" / "f.png", np.arange(3), np.ones(2), np.ones(1))
