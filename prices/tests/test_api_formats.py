"""Parquet and CSV answers: typed columns, the same content as each other, a BOM for Excel."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal as D

import pandas as pd
import pyarrow.parquet as pq
import pytest

from etfs.tests.factories import DailyBarFactory, InstrumentFactory, make_bars
from prices.models import CorporateAction

pytestmark = pytest.mark.django_db

DAYS = [dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4), dt.date(2024, 1, 5), dt.date(2024, 1, 8)]


def make_history():
    hs300 = InstrumentFactory(code="510300", name="沪深300ETF")
    gold = InstrumentFactory(code="518880", name="黄金ＥＴＦ")
    make_bars(hs300, DAYS, [D("3.500"), D("3.520"), D("3.480"), D("3.400"), D("3.450")])
    make_bars(gold, DAYS, [D("4.800"), D("4.810"), D("4.790"), D("4.805"), D("4.820")])
    CorporateAction.objects.create(instrument=hs300, ex_date=dt.date(2024, 1, 5), cash=D("0.100"))
    DailyBarFactory(instrument=gold, day=dt.date(2024, 1, 9), amount=None)
    return hs300, gold


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def read_pair(client, path, params):
    csv_response = client.get(path, {**params, "format": "csv"})
    parquet_response = client.get(path, {**params, "format": "parquet"})
    assert csv_response.status_code == parquet_response.status_code == 200
    assert parquet_response["Content-Type"] == "application/vnd.apache.parquet"
    frame_csv = pd.read_csv(io.BytesIO(body(csv_response)), dtype={"symbol": str})
    frame_parquet = pd.read_parquet(io.BytesIO(body(parquet_response)))
    return frame_csv, frame_parquet


def same_frames(frame_csv: pd.DataFrame, frame_parquet: pd.DataFrame) -> None:
    for column in ("date", "period_start"):
        if column in frame_parquet:
            frame_parquet[column] = frame_parquet[column].astype(str)
            frame_csv[column] = frame_csv[column].astype(str)
    pd.testing.assert_frame_equal(frame_csv, frame_parquet, check_dtype=False)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/instruments/510300.SH/bars/", {"adjust": "qfq"}),
        ("/api/instruments/518880.SH/bars/", {"interval": "1w", "adjust": "hfq"}),
        ("/api/bars/", {"symbols": "510300.SH,518880.SH", "start": "2024-01-03"}),
        ("/api/bars/", {"date": "2024-01-05", "adjust": "qfq"}),
        ("/api/bars/latest/", {}),
    ],
)
def test_parquet_read_back_with_pandas_equals_the_csv(client, path, params):
    make_history()
    frame_csv, frame_parquet = read_pair(client, path, params)
    assert len(frame_parquet) > 0
    same_frames(frame_csv, frame_parquet)


def test_parquet_columns_are_typed(client):
    make_history()
    response = client.get("/api/bars/", {"symbols": "518880.SH", "interval": "1w", "format": "parquet"})
    schema = pq.read_schema(io.BytesIO(body(response)))
    types = {field.name: str(field.type) for field in schema}
    assert types["symbol"] == "string"
    assert types["date"] == "date32[day]"
    assert types["period_start"] == "date32[day]"
    assert types["close"] == "double"
    assert types["amount"] == "double"
    assert types["volume"] == "int64"


def test_parquet_keeps_unknown_amounts_null(client):
    make_history()
    response = client.get("/api/instruments/518880.SH/bars/", {"format": "parquet"})
    frame = pd.read_parquet(io.BytesIO(body(response)))
    assert frame["amount"].isna().tolist() == [False] * 5 + [True]


def test_parquet_of_an_empty_range_has_the_columns_and_no_rows(client):
    make_history()
    response = client.get("/api/instruments/510300.SH/bars/", {"format": "parquet", "start": "2025-01-01"})
    frame = pd.read_parquet(io.BytesIO(body(response)))
    assert len(frame) == 0
    assert list(frame.columns)[:2] == ["date", "open"]


def test_parquet_takes_the_chosen_fields(client):
    make_history()
    response = client.get("/api/instruments/510300.SH/bars/", {"format": "parquet", "fields": "date,close"})
    assert list(pd.read_parquet(io.BytesIO(body(response))).columns) == ["date", "close"]


def test_csv_with_bom_starts_with_the_utf8_bom(client):
    make_history()
    response = client.get("/api/bars/latest/", {"format": "csv", "bom": "1"})
    data = body(response)
    assert data.startswith(b"\xef\xbb\xbf")
    assert "黄金ＥＴＦ" in data.decode("utf-8-sig")


def test_streamed_csv_with_bom_starts_with_the_bom_once(client):
    make_history()
    data = body(client.get("/api/instruments/510300.SH/bars/", {"format": "csv", "bom": "1"}))
    assert data.startswith(b"\xef\xbb\xbfdate,")
    assert data.count(b"\xef\xbb\xbf") == 1


def test_csv_has_no_bom_by_default(client):
    make_history()
    assert body(client.get("/api/instruments/510300.SH/bars/", {"format": "csv"})).startswith(b"date,")
