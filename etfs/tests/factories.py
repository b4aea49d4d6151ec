"""factory-boy factories shared by every app's tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from etfs.models import AssetType, FundProfile, Instrument, SyncRun
from prices.models import DailyBar, FundNav, FundShares, trading_date_to_time


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument
        django_get_or_create = ("symbol",)

    code = factory.Sequence(lambda n: f"{510000 + n:06d}")
    exchange = "SH"
    symbol = factory.LazyAttribute(lambda o: f"{o.code}.{o.exchange}")
    name = factory.Sequence(lambda n: f"测试ETF{n}")
    is_etf = True
    asset_type = AssetType.ETF
    price_decimals = 3


class StockFactory(InstrumentFactory):
    code = factory.Sequence(lambda n: f"{600000 + n:06d}")
    name = factory.Sequence(lambda n: f"测试股份{n}")
    is_etf = False
    asset_type = AssetType.STOCK
    price_decimals = 2


class DailyBarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DailyBar

    class Params:
        day = dt.date(2024, 1, 2)

    instrument = factory.SubFactory(InstrumentFactory)
    time = factory.LazyAttribute(lambda o: trading_date_to_time(o.day))
    open = Decimal("3.500")
    high = Decimal("3.520")
    low = Decimal("3.470")
    close = Decimal("3.480")
    volume = 123456700
    amount = Decimal("430123456.00")


class FundProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FundProfile

    instrument = factory.SubFactory(InstrumentFactory)
    tracking_index_code = "000300"
    tracking_index_name = "沪深300指数"
    fund_company = "华泰柏瑞基金"
    custodian = "中国工商银行"
    inception_date = dt.date(2012, 5, 4)
    category = "equity"
    management_fee = Decimal("0.15")
    custody_fee = Decimal("0.05")
    t0 = False


class FundNavFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FundNav

    class Params:
        day = dt.date(2024, 1, 2)

    instrument = factory.SubFactory(InstrumentFactory)
    time = factory.LazyAttribute(lambda o: trading_date_to_time(o.day))
    unit_nav = Decimal("3.4760")
    accumulated_nav = Decimal("1.8760")


class FundSharesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FundShares

    class Params:
        day = dt.date(2024, 1, 2)

    instrument = factory.SubFactory(InstrumentFactory)
    time = factory.LazyAttribute(lambda o: trading_date_to_time(o.day))
    shares = 9_000_000_000


class SyncRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncRun

    kind = SyncRun.Kind.ETFS


def make_bars(
    instrument: Instrument,
    days: list[dt.date],
    closes: list[Decimal] | None = None,
    *,
    close: Decimal = Decimal("3.500"),
    volume: int = 1000,
) -> list[DailyBar]:
    """Flat bars (open = high = low = close) in one insert: ``closes`` per day, else ``close``."""
    closes = closes if closes is not None else [close] * len(days)
    return DailyBar.objects.bulk_create(
        DailyBar(
            instrument=instrument,
            time=trading_date_to_time(day),
            open=price,
            high=price,
            low=price,
            close=price,
            volume=volume,
            amount=price * volume,
        )
        for day, price in zip(days, closes, strict=True)
    )
