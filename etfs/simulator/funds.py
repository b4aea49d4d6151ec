"""The fund side of the simulated market: facts, NAVs, on-exchange shares — the truth tests check.

Everything follows from the market (``SimMarket``) and its seed. NAVs are consistent with
prices: each trading day's unit NAV is that day's close (the last close on a suspended day)
divided by ``1 + premium``, the premium small (±0.4 %; ±2 % for cross-border funds); the
accumulated NAV is the unit NAV with every distribution and split added back, so a split
moves the unit NAV and not the accumulated one. Cross-border funds publish one or two
trading days late. Shares move by whole 100-share lots, so SSE's 万份 with two decimals and
SZSE's 份 are both exact.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from dataclasses import dataclass
from decimal import Decimal

from etfs.calendar import trading_days
from etfs.simulator.adjust import hfq_price, round_half_up
from etfs.simulator.market import SimInstrument, SimMarket
from etfs.symbols import Symbol, parse_symbol

COMPANIES = ("华夏基金", "易方达基金", "华泰柏瑞基金", "南方基金", "嘉实基金", "广发基金", "国泰基金", "博时基金")
CUSTODIANS = ("中国工商银行", "中国建设银行", "招商银行", "中国银行", "交通银行", "中国农业银行")
INDEXES = {
    "equity": (
        ("000300", "沪深300指数"),
        ("000905", "中证500指数"),
        ("399006", "创业板指数"),
        ("000016", "上证50指数"),
    ),
    "bond": (("H11077", "上证10年期国债指数"), ("000012", "上证国债指数")),
    "gold": (("AU9999", "上海黄金交易所黄金现货实盘合约Au99.99"),),
    "commodity": (("ZCE.M", "大连商品交易所豆粕期货价格指数"),),
    "cross_border": (("NDX", "纳斯达克100指数"), ("HSI", "恒生指数"), ("SPX", "标普500指数")),
    "money_market": (("", ""),),
}
# (East Money fund type, management fee %, custody fee %) per category.
TYPES = {
    "equity": ("指数型-股票", "0.50", "0.10"),
    "bond": ("指数型-固收", "0.15", "0.05"),
    "gold": ("商品（不含QDII）", "0.50", "0.10"),
    "commodity": ("商品（不含QDII）", "0.50", "0.10"),
    "cross_border": ("QDII-普通股票", "0.80", "0.20"),
    "money_market": ("货币型-普通货币", "0.35", "0.10"),
}
# SSE FUND_LIST ``subClass`` per category (01 SH single-market, 02 bond, 08 cross-border; the
# codes for gold/commodity/money are not documented anywhere we found: 06 is our choice).
SSE_SUBCLASS = {"equity": "01", "bond": "02", "money_market": "02", "gold": "06", "commodity": "06"}
SZSE_INVESTMENT_TYPE = {
    "equity": "股票基金",
    "bond": "债券基金",
    "gold": "商品基金",
    "commodity": "商品基金",
    "cross_border": "跨境基金",
    "money_market": "货币市场基金",
}
FOUR = Decimal("0.0001")
LOT = 100


@dataclass(frozen=True)
class SimFundFacts:
    symbol: Symbol
    category: str
    fund_type: str
    company: str
    custodian: str
    index_code: str
    index_name: str
    inception: dt.date
    management_fee: Decimal
    custody_fee: Decimal
    nav_lag: int  # trading days a published NAV trails the market (cross-border: 1 or 2)


@dataclass(frozen=True)
class SimNav:
    day: dt.date
    unit_nav: Decimal
    accumulated_nav: Decimal
    unit_money: str  # pingzhongdata ``unitMoney``: "" or the distribution/split note of the day


def category_of(inst: SimInstrument) -> str:
    board = next((tag[2:] for tag in inst.tags if tag.startswith("b:")), "")
    name = inst.name
    if "日利" in name:
        return "money_market"
    if board == "MK0024" or "黄金" in name:
        return "gold"
    if board == "MK0023":
        return "cross_border"
    if board == "MK0022" or "债" in name:
        return "bond"
    if "豆粕" in name:
        return "commodity"
    return "equity"


class SimFunds:
    """Fund facts and daily NAV/shares of every simulated ETF, as of the market's today."""

    def __init__(self, market: SimMarket) -> None:
        self.market = market
        self._lock = threading.RLock()
        self._nav_revisions: dict[tuple[Symbol, dt.date], Decimal] = {}
        self._cache: dict[tuple, object] = {}
        self._cache_today: dt.date | None = None

    # --- truth -------------------------------------------------------------------------------
    def etfs(self) -> list[SimInstrument]:
        """Every ETF listed by today (delisted ones too: their history stays)."""
        return [inst for inst in self.market.instruments() if inst.is_etf]

    def listed_etfs(self, day: dt.date | None = None) -> list[SimInstrument]:
        return [inst for inst in self.market.listed(day) if inst.is_etf]

    def facts(self, symbol: Symbol | str) -> SimFundFacts:
        inst = self.market.instrument(symbol)
        rng = random.Random(f"{self.market.seed}/{inst.symbol.code}/fund")
        category = category_of(inst)
        fund_type, management, custody = TYPES[category]
        index_code, index_name = rng.choice(INDEXES[category])
        if category == "equity" and rng.random() < 0.5:
            management, custody = "0.15", "0.05"  # the low-fee broad-index funds
        return SimFundFacts(
            symbol=inst.symbol,
            category=category,
            fund_type=fund_type,
            company=rng.choice(COMPANIES),
            custodian=rng.choice(CUSTODIANS),
            index_code=index_code,
            index_name=index_name,
            inception=inst.list_date - dt.timedelta(days=rng.randint(10, 40)),
            management_fee=Decimal(management),
            custody_fee=Decimal(custody),
            nav_lag=(1 + rng.randint(0, 1)) if category == "cross_border" else 0,
        )

    def navs(self, symbol: Symbol | str) -> list[SimNav]:
        """Published NAVs, oldest first: listing to today (minus the fund's publication lag)."""
        inst = self.market.instrument(symbol)
        return list(self._cached(("navs", inst.symbol), lambda: self._navs(inst)))

    def nav_on(self, symbol: Symbol | str, day: dt.date) -> SimNav | None:
        return next((nav for nav in self.navs(symbol) if nav.day == day), None)

    def shares(self, symbol: Symbol | str) -> list[tuple[dt.date, int]]:
        """On-exchange shares at each trading day's end, listing to today (or delisting)."""
        inst = self.market.instrument(symbol)
        return list(self._cached(("shares", inst.symbol), lambda: self._shares(inst)))

    def shares_on(self, day: dt.date, exchange: str) -> list[tuple[SimInstrument, int]]:
        """Every ``exchange`` ETF's shares on ``day`` (an index built once per today: the SSE
        endpoint answers one day per request, for hundreds of days in a backfill)."""

        def index() -> dict[dt.date, list[tuple[SimInstrument, int]]]:
            by_day: dict[dt.date, list[tuple[SimInstrument, int]]] = {}
            for inst in self.etfs():
                if inst.symbol.exchange == exchange:
                    for when, shares in self.shares(inst.symbol):
                        by_day.setdefault(when, []).append((inst, shares))
            return by_day

        return list(self._cached(("shares_on", exchange), index).get(day, []))

    def revise_nav(self, symbol: Symbol | str, day: dt.date, unit_nav: Decimal | str) -> None:
        """Change a published unit NAV, as fund companies sometimes correct one."""
        inst = self.market.instrument(symbol)
        if self.nav_on(inst.symbol, day) is None:
            raise ValueError(f"{inst.symbol} has no published NAV on {day}")
        with self._lock:
            self._nav_revisions[(inst.symbol, day)] = round_half_up(Decimal(str(unit_nav)), 4)
            self._cache.clear()

    # --- generation ------------------------------------------------------------------------------
    def _cached(self, key: tuple, compute):
        with self._lock:
            if self._cache_today != self.market.today:
                self._cache.clear()
                self._cache_today = self.market.today
            if key not in self._cache:
                self._cache[key] = compute()
            return self._cache[key]

    def _nav_days(self, inst: SimInstrument) -> list[dt.date]:
        last = min(self.market.today, inst.delist_date or self.market.today)
        days = trading_days(inst.list_date, last)
        lag = self.facts(inst.symbol).nav_lag
        return days[: len(days) - lag] if lag else days

    def _navs(self, inst: SimInstrument) -> list[SimNav]:
        facts = self.facts(inst.symbol)
        bars = {bar.day: bar.close for bar in self.market.bars(inst.symbol)}
        actions = inst.actions
        ex_days = {a.ex_date: a for a in actions}
        spread = 0.02 if facts.category == "cross_border" else 0.004
        navs: list[SimNav] = []
        close = inst.start_price
        for day in self._nav_days(inst):
            action = ex_days.get(day)
            if action is not None and day not in bars:  # an ex-day without a trade: NAV converts anyway
                close = (close - action.cash) / action.split_ratio
            close = bars.get(day, close)
            rng = random.Random(f"{self.market.seed}/{inst.symbol.code}/nav/{day.isoformat()}")
            premium = Decimal(str(round(rng.uniform(-spread, spread), 6)))
            unit = self._nav_revisions.get((inst.symbol, day)) or round_half_up(close / (1 + premium), 4)
            accumulated = hfq_price(unit, day, actions, 4)
            note = ""
            if action is not None and action.split_ratio != 1:
                note = f"拆分：每份基金份额分拆{action.split_ratio}份"
            elif action is not None:
                note = f"分红：每份派现金{action.cash:.4f}元"
            navs.append(SimNav(day, unit, accumulated, note))
        return navs

    def _shares(self, inst: SimInstrument) -> list[tuple[dt.date, int]]:
        last = min(self.market.today, inst.delist_date or self.market.today)
        rng = random.Random(f"{self.market.seed}/{inst.symbol.code}/shares")
        shares = inst.float_shares
        rows = []
        for day in trading_days(inst.list_date, last):
            # Draws are per day in order, so a later today only appends rows.
            if rng.random() < 0.6:
                change = int(shares * rng.uniform(-0.02, 0.02)) // LOT * LOT
                shares = max(LOT * 10_000, shares + change)
            rows.append((day, shares))
        return rows

    def symbol(self, code: str, exchange: str) -> SimInstrument | None:
        try:
            inst = self.market.instrument(parse_symbol(f"{code}.{exchange}"))
        except (KeyError, ValueError):
            return None
        return inst if inst.is_etf else None
