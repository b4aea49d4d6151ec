"""The simulator speaks the documented wire formats (data-sources.md) and its switches work."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests

from etfs.providers.jsonp import loads_jsonp
from etfs.simulator.market import SimConfig
from etfs.simulator.server import run_simulator

TODAY = dt.date(2024, 6, 28)
ETF_FS = "b:MK0021,b:MK0022,b:MK0023,b:MK0024"


@pytest.fixture(scope="module")
def sim():
    with run_simulator(SimConfig(n_etfs=6, n_stocks=6, years=1, today=TODAY, seed=1)) as running:
        yield running


def get_list(sim, **params) -> dict:
    return json.loads(requests.get(sim.list_url, params={"fltt": 2, "np": 1, **params}, timeout=5).text)


def get_kline(sim, **params) -> dict:
    return json.loads(requests.get(sim.kline_url, params={"klt": 101, **params}, timeout=5).text)


def test_list_has_the_east_money_envelope_and_total(sim):
    body = get_list(sim, pn=1, pz=100, fs=ETF_FS)

    assert list(body) == ["rc", "rt", "svr", "lt", "full", "dlmkts", "data"]
    assert body["data"]["total"] == len([i for i in sim.market.listed() if i.is_etf])


def test_list_row_has_documented_fields_and_units(sim):
    row = get_list(sim, pn=1, pz=100, fs=ETF_FS, fid="f12", po=0)["data"]["diff"][0]
    inst = sim.market.instrument(f"{row['f12']}.{'SH' if row['f13'] == 1 else 'SZ'}")
    bar = sim.market.bars(inst.symbol)[-1]

    assert (row["f14"], row["f297"], row["f1"]) == (inst.name, 20240628, 3)
    assert (row["f17"], row["f15"], row["f16"], row["f2"]) == tuple(
        float(p) for p in (bar.open, bar.high, bar.low, bar.close)
    )
    assert (row["f5"], row["f6"], row["f18"]) == (bar.volume // 100, float(bar.amount), float(bar.prev_close))


def test_list_row_of_a_suspended_instrument_has_dashes_and_a_previous_close(sim):
    rows = get_list(sim, pn=1, pz=100, fs=ETF_FS)["data"]["diff"]
    suspended = next(r for r in rows if r["f2"] == "-")

    assert all(suspended[key] == "-" for key in ("f3", "f4", "f5", "f6", "f15", "f16", "f17"))
    assert isinstance(suspended["f18"], float)


def test_list_page_size_is_capped_at_100():
    with run_simulator(SimConfig(n_etfs=126, n_stocks=0, years=1, today=TODAY, seed=1)) as big:
        first = get_list(big, pn=1, pz=5000, fs=ETF_FS)["data"]
        second = get_list(big, pn=2, pz=5000, fs=ETF_FS)["data"]

    assert (len(first["diff"]), first["total"]) == (100, len(big.market.listed()))
    assert len(second["diff"]) == first["total"] - 100


def test_list_past_the_last_page_has_null_data(sim):
    assert get_list(sim, pn=9, pz=100, fs=ETF_FS)["data"] is None


def test_list_without_np_sends_diff_as_an_object(sim):
    body = json.loads(requests.get(sim.list_url, params={"fltt": 2, "fs": ETF_FS, "pz": 100}, timeout=5).text)

    assert list(body["data"]["diff"]) == [str(i) for i in range(body["data"]["total"])]


def test_list_with_cb_is_jsonp(sim):
    text = requests.get(sim.list_url, params={"fltt": 2, "np": 1, "fs": ETF_FS, "cb": "jQuery_1"}, timeout=5).text

    assert text.startswith("jQuery_1({") and text.endswith("});")
    assert loads_jsonp(text)["data"]["total"] == get_list(sim, fs=ETF_FS)["data"]["total"]


@pytest.mark.parametrize(
    ("fs", "prefixes"),
    [
        ("m:0 t:80", ("300", "301")),
        ("m:1 t:2,m:1 t:23", ("60", "68")),
        ("m:0 t:6,m:0 t:80", ("00", "30")),
    ],
)
def test_list_fs_filter_selects_boards(sim, fs, prefixes):
    rows = get_list(sim, pn=1, pz=100, fs=fs)["data"]["diff"]

    assert rows and all(row["f12"].startswith(prefixes) for row in rows)


def test_list_fields_parameter_limits_the_columns(sim):
    rows = get_list(sim, pn=1, pz=100, fs=ETF_FS, fields="f12,f14")["data"]["diff"]

    assert {tuple(row) for row in rows} == {("f12", "f14")}


def test_list_without_fltt_sends_prices_as_scaled_integers(sim):
    body = json.loads(requests.get(sim.list_url, params={"np": 1, "fs": "m:0 t:80"}, timeout=5).text)
    row = body["data"]["diff"][0]
    bar = sim.market.bars(f"{row['f12']}.SZ")[-1]

    assert row["f2"] == int(bar.close * 100)


@pytest.mark.parametrize(("fqt", "adjust"), [("0", "none"), ("1", "qfq"), ("2", "hfq")])
def test_kline_rows_carry_every_position_in_wire_order(sim, fqt, adjust):
    inst = next(i for i in sim.market.instruments() if any(a.split_ratio != 1 for a in i.actions))
    body = get_kline(sim, secid=inst.symbol.secid, fqt=fqt, beg=0, end=20500101)["data"]
    bars = sim.market.bars(inst.symbol, adjust)

    fields = body["klines"][-1].split(",")
    bar = bars[-1]
    assert (body["code"], body["market"], body["decimal"], body["dktotal"]) == (
        inst.symbol.code,
        inst.market,
        3,
        len(bars),
    )
    assert fields[:7] == [
        bar.day.isoformat(),
        str(bar.open),
        str(bar.close),
        str(bar.high),
        str(bar.low),
        str(bar.volume // 100),
        f"{bar.amount:.2f}",
    ]
    assert fields[9] == str(bar.close - bar.prev_close)
    assert len(body["klines"]) == len(bars)


def test_kline_window_and_previous_close(sim):
    bars = sim.market.bars("510300.SH")

    body = get_kline(sim, secid="1.510300", fqt=0, beg=20240603, end=20240607)["data"]

    window = [b for b in bars if dt.date(2024, 6, 3) <= b.day <= dt.date(2024, 6, 7)]
    assert [line.split(",")[0] for line in body["klines"]] == [b.day.isoformat() for b in window]
    assert body["preKPrice"] == float(bars[bars.index(window[0]) - 1].close)


def test_kline_lmt_returns_the_last_bars(sim):
    body = get_kline(sim, secid="1.510300", fqt=0, end=20500101, lmt=3)["data"]

    assert [line[:10] for line in body["klines"]] == [b.day.isoformat() for b in sim.market.bars("510300.SH")[-3:]]


def test_kline_unknown_or_wrong_market_secid_has_null_data(sim):
    assert get_kline(sim, secid="0.510300", fqt=0)["data"] is None
    assert get_kline(sim, secid="1.519999", fqt=0)["data"] is None


def test_tencent_endpoint_wraps_rows_in_the_var_assignment(sim):
    params = {"param": "sh510300,day,2024-06-01,2024-06-30,640,qfq", "_var": "kline_dayqfq2024"}
    text = requests.get(sim.tencent_url, params=params, timeout=5).text

    assert text.startswith("kline_dayqfq2024={")
    rows = loads_jsonp(text)["data"]["sh510300"]["qfqday"]
    june = [b for b in sim.market.bars("510300.SH", "qfq") if (b.day.year, b.day.month) == (2024, 6)]
    assert [(r[0], r[2], r[5]) for r in rows] == [
        (b.day.isoformat(), str(b.close), f"{b.volume // 100}.000") for b in june
    ]


def test_request_log_records_path_status_and_time(sim):
    before = len(sim.request_log)

    get_kline(sim, secid="1.510300", fqt=0, lmt=1)

    entry = sim.request_log[before]
    assert (entry.path, entry.status, entry.outcome, entry.query["lmt"]) == ("/api/qt/stock/kline/get", 200, "ok", "1")
    assert entry.time > 0


# --- switches --------------------------------------------------------------------------------------
def test_fail_rate_answers_5xx_html(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY, fail_rate=1.0)

    response = requests.get(sim.kline_url, params={"secid": "1.510300"}, timeout=5)

    assert response.status_code in (500, 502, 503) and "<html>" in response.text


def test_garbage_rate_answers_bodies_that_do_not_parse(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY, garbage_rate=1.0)

    for _ in range(6):
        response = requests.get(sim.kline_url, params={"secid": "1.510300"}, timeout=5)
        assert response.status_code == 200
        with pytest.raises(ValueError):
            json.loads(response.text)


def test_switches_change_on_a_running_simulator(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY)
    statuses = [requests.get(sim.kline_url, params={"secid": "1.510300"}, timeout=5).status_code]

    sim.config.fail_rate = 1.0
    statuses.append(requests.get(sim.kline_url, params={"secid": "1.510300"}, timeout=5).status_code)

    assert statuses[0] == 200 and statuses[1] >= 500


def test_rps_limit_answers_429_with_retry_after(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY, rps_limit=2)

    responses = [requests.get(sim.kline_url, params={"secid": "1.510300"}, timeout=5) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[2].headers["Retry-After"] == "1"


def test_hang_rate_holds_the_answer_past_the_client_timeout(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY, hang_rate=1.0, hang_seconds=5)

    with pytest.raises(requests.Timeout):
        requests.get(sim.kline_url, params={"secid": "1.510300"}, timeout=(1, 0.2))


def test_drop_rate_closes_the_connection_without_an_answer(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY, drop_rate=1.0)

    with pytest.raises(requests.ConnectionError):
        requests.get(sim.kline_url, params={"secid": "1.510300"}, timeout=5)


def test_set_today_adds_the_new_trading_day_to_list_and_kline(simulator):
    sim = simulator(n_etfs=2, n_stocks=0, years=1, today=TODAY)

    sim.set_today(dt.date(2024, 7, 1))

    rows = get_list(sim, pn=1, pz=100, fs=ETF_FS)["data"]["diff"]
    klines = get_kline(sim, secid="1.510300", fqt=0, lmt=1)["data"]["klines"]
    assert {row["f297"] for row in rows} == {20240701}
    assert klines[0].startswith("2024-07-01,")


def test_revised_bar_is_served(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY)
    day = sim.market.bars("510300.SH")[-2].day

    sim.market.revise_bar("510300.SH", day, volume=98765400)

    klines = get_kline(sim, secid="1.510300", fqt=0, lmt=2)["data"]["klines"]
    assert klines[0].split(",")[5] == "987654"


def test_stopped_simulator_refuses_even_pooled_connections(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY)
    session = requests.Session()
    session.get(sim.kline_url, params={"secid": "1.510300"}, timeout=5)

    sim.stop()

    with pytest.raises(requests.ConnectionError):
        session.get(sim.kline_url, params={"secid": "1.510300"}, timeout=5)
