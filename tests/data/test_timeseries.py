import warnings
from pathlib import Path

import numpy as np
import pytest

from rnnlab.data.timeseries import Series, from_array, parse_freq, read_series_csv, season_for_freq
from rnnlab.errors import RnnlabError


def write_csv(tmp_path: Path, text: str, name: str = "series.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- real data ---------------------------------------------------------------------------------------


def test_airline_parses_144_calendar_months_with_season_12(data_dir):
    series = read_series_csv(data_dir / "timeseries" / "airline.csv")
    assert len(series) == 144 and series.values.shape == (144, 1)
    assert series.columns == ["Passengers"]
    assert series.freq == "MS" and series.season == 12
    assert series.times.dtype == np.dtype("datetime64[M]")
    assert str(series.times[0]) == "1949-01" and str(series.times[-1]) == "1960-12"
    assert series.values[0, 0] == 112 and series.values[-1, 0] == 432
    assert series.regular and len(series.filled) == 0
    assert repr(series) == (
        "Series(T=144, columns=['Passengers'], freq='MS', season=12, 1949-01..1960-12, filled=0, regular=True)"
    )


def test_sunspots_parses_309_years_without_a_season(data_dir):
    series = read_series_csv(data_dir / "timeseries" / "sunspots.csv")
    assert len(series) == 309
    assert series.columns == ["SUNACTIVITY"]
    assert series.freq == "YS" and series.season is None
    assert str(series.times[0]) == "1700" and str(series.times[-1]) == "2008"


def test_co2_with_missing_fail_names_the_59_missing_values_and_the_remedies(data_dir):
    with pytest.raises(RnnlabError) as error:
        read_series_csv(data_dir / "timeseries" / "co2.csv")
    message = str(error.value)
    assert "co2.csv" in message and "59 missing values" in message
    assert "column 'co2'" in message and "first at lines 8, 11, 12" in message
    assert "--missing interpolate" in message and "--missing drop" in message
    assert "\n" not in message


def test_co2_interpolated_is_a_regular_weekly_series_without_nan(data_dir):
    series = read_series_csv(data_dir / "timeseries" / "co2.csv", missing="interpolate")
    assert len(series) == 2284 and not np.isnan(series.values).any()
    assert series.freq == "W" and series.season == 52 and series.regular
    assert np.all(np.diff(series.times) == np.timedelta64(7, "D"))
    assert len(series.filled) == 59 and set(series.filled[:, 1]) == {0}
    # line 8 (1958-05-10) is empty; its neighbours a week either side read 316.9 and 317.5
    assert str(series.times[6]) == "1958-05-10" and [6, 0] in series.filled.tolist()
    assert series.values[6, 0] == pytest.approx((316.9 + 317.5) / 2)


def test_co2_drop_removes_the_rows_warns_and_marks_the_series_irregular(data_dir):
    with pytest.warns(UserWarning, match="no longer evenly spaced"):
        series = read_series_csv(data_dir / "timeseries" / "co2.csv", missing="drop")
    assert len(series) == 2284 - 59 and not series.regular
    assert not np.isnan(series.values).any()


# --- date forms and frequency inference ---------------------------------------------------------------


def test_float_years_like_1700_0_are_read_as_years(tmp_path):
    series = read_series_csv(write_csv(tmp_path, "YEAR,x\n1700.0,1\n1701.0,2\n1702.0,3\n"))
    assert series.freq == "YS" and list(series.times.astype(str)) == ["1700", "1701", "1702"]


def test_compact_yyyymmdd_dates_are_days(tmp_path):
    series = read_series_csv(write_csv(tmp_path, "date,x\n20200101,1\n20200102,2\n20200103,3\n"))
    assert series.freq == "D" and series.season == 7
    assert series.times.dtype == np.dtype("datetime64[D]") and str(series.times[-1]) == "2020-01-03"


def test_datetimes_an_hour_apart_infer_hourly_with_season_24(tmp_path):
    text = "when,x\n2020-01-01 22:00,1\n2020-01-01 23:00,2\n2020-01-02 00:00:00,3\n"
    series = read_series_csv(write_csv(tmp_path, text))
    assert series.freq == "h" and series.season == 24


def test_month_start_dates_step_in_calendar_months_not_fixed_days(tmp_path):
    # 31, 29 and 31 days apart: a fixed-day grid would call this irregular
    text = "date,x\n2020-01-01,1\n2020-02-01,2\n2020-03-01,3\n2020-04-01,4\n"
    series = read_series_csv(write_csv(tmp_path, text))
    assert series.freq == "MS" and series.season == 12
    assert list(series.times.astype(str)) == ["2020-01", "2020-02", "2020-03", "2020-04"]


def test_month_end_dates_are_calendar_months_with_freq_m(tmp_path):
    text = "date,x\n2020-01-31,1\n2020-02-29,2\n2020-03-31,3\n"
    series = read_series_csv(write_csv(tmp_path, text))
    assert series.freq == "M" and series.season == 12


def test_three_month_steps_infer_quarters_with_season_4(tmp_path):
    series = read_series_csv(write_csv(tmp_path, "q,x\n2020-01,1\n2020-04,2\n2020-07,3\n2020-10,4\n"))
    assert series.freq == "QS" and series.season == 4


def test_weekly_dates_infer_w_with_season_52(tmp_path):
    series = read_series_csv(write_csv(tmp_path, "d,x\n2020-01-04,1\n2020-01-11,2\n2020-01-18,3\n"))
    assert series.freq == "W" and series.season == 52


# --- gaps and missing values ---------------------------------------------------------------------------


def test_a_missing_timestamp_fails_naming_the_gap(tmp_path):
    path = write_csv(tmp_path, "d,x\n2020-01-01,1\n2020-01-02,2\n2020-01-04,4\n2020-01-05,5\n")
    with pytest.raises(RnnlabError, match=r"1 gap in the D time grid \(first missing timestamps 2020-01-03\)"):
        read_series_csv(path)


def test_interpolate_inserts_missing_timestamps_linearly_in_time(tmp_path):
    path = write_csv(tmp_path, "d,x,y\n2020-01-01,1,10\n2020-01-02,2,\n2020-01-04,4,40\n2020-01-05,5,50\n")
    series = read_series_csv(path, missing="interpolate")
    assert list(series.times.astype(str)) == ["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04", "2020-01-05"]
    np.testing.assert_allclose(series.values, [[1, 10], [2, 20], [3, 30], [4, 40], [5, 50]])
    assert sorted(map(tuple, series.filled.tolist())) == [(1, 1), (2, 0), (2, 1)]


def test_nan_and_na_cells_count_as_missing(tmp_path):
    path = write_csv(tmp_path, "d,x\n2020,1\n2021,NaN\n2022,NA\n2023,4\n")
    with pytest.raises(RnnlabError, match="2 missing values"):
        read_series_csv(path)
    np.testing.assert_allclose(read_series_csv(path, missing="interpolate").values.ravel(), [1, 2, 3, 4])


def test_a_missing_first_value_cannot_be_interpolated(tmp_path):
    path = write_csv(tmp_path, "d,x\n2020,\n2021,2\n2022,3\n")
    with pytest.raises(RnnlabError, match="missing at the start"):
        read_series_csv(path, missing="interpolate")


def test_drop_without_missing_values_keeps_a_regular_series_and_does_not_warn(tmp_path):
    path = write_csv(tmp_path, "d,x\n2020,1\n2021,2\n2022,3\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_series_csv(path, missing="drop").regular


def test_an_unknown_missing_policy_is_refused(tmp_path):
    with pytest.raises(RnnlabError, match="argument `missing`"):
        read_series_csv(write_csv(tmp_path, "d,x\n2020,1\n2021,2\n"), missing="zero")


# --- malformed files -----------------------------------------------------------------------------------


def test_a_non_numeric_value_names_the_line_and_column(tmp_path):
    path = write_csv(tmp_path, "d,x\n2020-01,1\n2020-02,lots\n")
    with pytest.raises(RnnlabError, match=r"series.csv: line 3 column 'x': 'lots' is not a number"):
        read_series_csv(path)


def test_an_unsorted_time_column_is_an_error_naming_the_line(tmp_path):
    path = write_csv(tmp_path, "d,x\n2020-01,1\n2020-03,3\n2020-02,2\n")
    with pytest.raises(RnnlabError, match=r"line 4: time 2020-02 comes before .* must be sorted"):
        read_series_csv(path)


def test_a_duplicate_timestamp_is_an_error(tmp_path):
    with pytest.raises(RnnlabError, match="line 3: time 2020-01 repeats"):
        read_series_csv(write_csv(tmp_path, "d,x\n2020-01,1\n2020-01,2\n2020-02,3\n"))


def test_irregular_steps_are_an_error_naming_the_line(tmp_path):
    path = write_csv(tmp_path, "d,x\n2020-01-01,1\n2020-01-03,2\n2020-01-05,3\n2020-01-06,4\n")
    with pytest.raises(RnnlabError, match="line 5: .* irregular"):
        read_series_csv(path)


def test_an_unreadable_date_names_the_line_and_the_accepted_forms(tmp_path):
    with pytest.raises(RnnlabError, match=r"line 2 column 'd': cannot read 'Jan 2020' as a date; expected"):
        read_series_csv(write_csv(tmp_path, "d,x\nJan 2020,1\nFeb 2020,2\n"))


def test_a_date_in_another_form_than_the_first_row_names_the_line(tmp_path):
    with pytest.raises(RnnlabError, match="line 3 column 'd'"):
        read_series_csv(write_csv(tmp_path, "d,x\n2020-01-01,1\n20200102,2\n"))


def test_a_short_row_names_its_line(tmp_path):
    with pytest.raises(RnnlabError, match="line 3 has 1 fields"):
        read_series_csv(write_csv(tmp_path, "d,x\n2020,1\n2021\n2022,3\n"))


def test_columns_are_chosen_by_name(tmp_path):
    path = write_csv(tmp_path, "id,when,a,b\n7,2020,1,10\n8,2021,2,20\n")
    series = read_series_csv(path, time_column="when", value_columns=["b"])
    assert series.columns == ["b"] and series.values.ravel().tolist() == [10, 20]


def test_an_unknown_column_lists_the_header(tmp_path):
    with pytest.raises(RnnlabError, match=r"no column 'time'; the header has \['d', 'x'\]"):
        read_series_csv(write_csv(tmp_path, "d,x\n2020,1\n2021,2\n"), time_column="time")


def test_a_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(RnnlabError, match=r"absent\.csv: no such file"):
        read_series_csv(tmp_path / "absent.csv")


# --- arrays and the Series itself ---------------------------------------------------------------------


def test_from_array_steps_calendar_months_from_start():
    series = from_array(np.arange(14.0), start="1949-11", freq="MS")
    assert series.values.shape == (14, 1) and series.columns == ["y0"] and series.season == 12
    assert str(series.times[2]) == "1950-01" and str(series.times[-1]) == "1950-12"


def test_from_array_without_freq_has_no_calendar_and_no_season():
    series = from_array(np.ones((5, 2)))
    assert series.freq is None and series.season is None and series.columns == ["y0", "y1"]


def test_from_array_refuses_a_start_that_is_not_on_the_freq_boundary():
    with pytest.raises(RnnlabError, match="boundary"):
        from_array(np.arange(3.0), start="1949-01-15", freq="MS")


def test_from_array_refuses_start_without_freq_and_nan_values():
    with pytest.raises(RnnlabError, match="needs a freq"):
        from_array(np.arange(3.0), start="2020-01-01")
    with pytest.raises(RnnlabError, match="NaN"):
        from_array(np.array([1.0, np.nan]))


def test_series_arrays_are_read_only():
    series = from_array(np.arange(3.0), freq="D")
    with pytest.raises(ValueError):
        series.values[0, 0] = 5.0


def test_future_times_continue_in_calendar_steps():
    series = from_array(np.arange(2.0), start="1960-11", freq="MS")
    assert list(series.future_times(3).astype(str)) == ["1961-01", "1961-02", "1961-03"]


def test_series_rejects_mismatched_shapes():
    with pytest.raises(RnnlabError, match="times"):
        Series(np.array(["2020-01-01"], dtype="datetime64[D]"), np.ones((2, 1)), ["x"], "D")


def test_parse_freq_accepts_pandas_aliases_and_multiples():
    assert parse_freq("H") == ("h", np.timedelta64(3600, "s"))
    assert parse_freq("A")[0] == "Y" and parse_freq("15min") == ("15min", np.timedelta64(900, "s"))
    assert season_for_freq("2W") is None and season_for_freq("QS") == 4
    with pytest.raises(RnnlabError, match="argument `freq`"):
        parse_freq("fortnightly")


def test_a_series_remembers_how_it_was_read_so_it_can_be_read_again(tmp_path):
    path = write_csv(tmp_path, "when,a,b\n2020-01,1,10\n2020-02,,20\n2020-03,3,30\n")
    series = read_series_csv(path, time_column="when", missing="interpolate")
    assert series.source == {"path": str(path), "time_column": "when", "value_columns": None, "missing": "interpolate",
                             "encoding": None}
    again = read_series_csv(**series.source)
    np.testing.assert_array_equal(again.values, series.values)
    assert from_array([1.0, 2.0]).source is None


def test_column_values_picks_the_named_columns_in_the_order_asked():
    series = from_array(np.array([[1.0, 10.0, 100.0], [2.0, 20.0, 200.0]]))
    np.testing.assert_array_equal(series.column_values(["y2", "y0"]), [[100.0, 1.0], [200.0, 2.0]])
    with pytest.raises(RnnlabError, match=r"lacks the columns \['sales'\]"):
        series.column_values(["y0", "sales"])


# --- hostile files ------------------------------------------------------------------------------------


def test_a_bom_and_crlf_are_accepted(tmp_path):
    path = tmp_path / "series.csv"
    path.write_bytes(b"\xef\xbb\xbfmonth,value\r\n2000-01,1\r\n2000-02,2\r\n2000-03,3\r\n")
    series = read_series_csv(path)
    assert series.columns == ["value"] and series.freq == "MS" and series.values[:, 0].tolist() == [1, 2, 3]


@pytest.mark.parametrize(("text", "message"), [
    (",x\n2020,1\n2021,2\n", r"series\.csv: line 1: column 1 of the header has no name"),
    ("d,x,x\n2020,1,2\n2021,2,3\n", r"series\.csv: line 1: the header names column 'x' twice"),
    ("d,x\n", r"series\.csv: only a header line, no data rows"),
    ("", r"series\.csv: empty file"),
    ("d,x\n2020,1\n2021,-inf\n", r"series\.csv: line 3 column 'x': '-inf' is not a finite number"),
    ("d,x\n2020-01,1\n2020-03,3\n2020-02,2\n", r"line 4: time 2020-02 comes before 2020-03 on line 3"),
    ("d,x\n٢٠٢٠,1\n2021,2\n", r"line 2 column 'd': cannot read '٢٠٢٠' as a date"),
])
def test_a_bad_csv_names_the_line_and_column(tmp_path, text, message):
    with pytest.raises(RnnlabError, match=message):
        read_series_csv(write_csv(tmp_path, text))


def test_gaps_are_counted_without_building_the_grid(tmp_path):
    text = "t,x\n2000-01-01 00:00:00,1\n2000-01-01 00:00:01,2\n9999-01-01 00:00:00,3\n"
    with pytest.raises(RnnlabError, match=r"252424079998 gaps in the s time grid \(first missing timestamps "
                                          r"2000-01-01T00:00:02, 2000-01-01T00:00:03, 2000-01-01T00:00:04\)"):
        read_series_csv(write_csv(tmp_path, text))
    with pytest.raises(RnnlabError, match=r"the times span 252424080001 steps \(s\) but there are only 3 rows "
                                          r"\(the largest jump: line 3 to line 4\)"):
        read_series_csv(write_csv(tmp_path, text), missing="interpolate")
    with pytest.warns(UserWarning, match="left 252424079998 gaps"):
        assert len(read_series_csv(write_csv(tmp_path, text), missing="drop")) == 3
