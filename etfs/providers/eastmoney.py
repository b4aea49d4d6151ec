"""East Money: the instrument lists (``clist/get``) and daily history (``stock/kline/get``).

Wire quirks handled here, once: the list host caps pages at 100 rows whatever ``pz`` says,
``diff`` may be a list or an object keyed "0", "1", ...; ``"-"`` means no value (no trade);
volumes come in lots of 100 shares; kline strings put close *before* high and low; prices
carry the ``decimal`` places the host reports; ``data: null`` means "no such instrument".
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from etfs.providers.announcements import (
    STOCK_BONUS_BATCH,
    STOCK_BONUS_PAGE_SIZE,
    BonusRow,
    distinct_fund_splits,
    merge_same_day,
    parse_fund_splits_page,
    parse_stock_bonus_page,
)
from etfs.providers.base import (
    NO_VALUE,
    Adjust,
    AnnouncedRecord,
    BarRecord,
    BarSeries,
    InstrumentKind,
    ListingRecord,
    MarketDataProvider,
    PlainBars,
    PriceTicks,
    RequestStats,
    ticks_of,
    wire_decimal,
    wire_decimals,
)
from etfs.providers.errors import BadPayload, UnknownInstrument
from etfs.providers.http import ClientOptions, HostClients
from etfs.providers.jsonp import load_object
from etfs.symbols import Symbol, classify_code, infer_exchange

logger = logging.getLogger(__name__)

PAGE_SIZE = 100  # the host's cap since 2025-03; asking for more still returns 100
# More rows than any list can hold (2026: ~1,400 ETFs, ~5,400 A-shares): a total above this
# is a broken answer, which would otherwise be paged through 100 rows at a time.
MAX_LIST_ROWS = 20_000
LIST_TOKEN = "bd1d9ddb04089700cf9c27f6f7426281"
KLINE_TOKEN = "7eea3edcaed734bea9cbfc24409ed989"
ETF_FILTER = "b:MK0021,b:MK0022,b:MK0023,b:MK0024"
STOCK_FILTERS = {"SH": "m:1 t:2,m:1 t:23", "SZ": "m:0 t:6,m:0 t:80", "BJ": "m:0 t:81 s:2048"}
LIST_FIELDS = "f1,f2,f3,f4,f5,f6,f7,f8,f12,f13,f14,f15,f16,f17,f18,f20,f21,f38,f124,f297,f402,f441"
FQT = {Adjust.NONE: "0", Adjust.QFQ: "1", Adjust.HFQ: "2"}
LOT = 100
# The SSE Composite index (secid 1.000001): it has a bar on every session of both exchanges.
SESSION_INDEX = Symbol("000001", "SH")
# The pages the two bulk tables are read from, sent as each request's Referer (as a browser would).
FUND_SPLITS_REFERER = "https://fund.eastmoney.com/data/fundchaifen.html"
STOCK_BONUS_REFERER = "https://data.eastmoney.com/yjfp/"


def _price(raw: Any, decimals: int) -> Decimal | None:
    """A price at the host's places; a non-finite one (NaN, Infinity) as it is, for the
    sync's validation to name (quantizing Infinity would raise)."""
    value = wire_decimal(raw)
    if value is None or not value.is_finite():
        return value
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def _lots_to_shares(raw: Any) -> int | Decimal | None:
    """Lots as shares; anything not a whole number stays a ``Decimal`` for validation to name."""
    value = wire_decimal(raw)
    if value is None:
        return None
    shares = value * LOT
    return int(shares) if shares.is_finite() and shares == shares.to_integral_value() else shares


def symbol_from_market(code: str, market: Any) -> Symbol:
    """East Money's ``f13``/``market``: 1 is Shanghai; 0 is Shenzhen *and* Beijing (by code prefix)."""
    if str(market) == "1":
        return Symbol(code, "SH")
    if str(market) == "0":
        try:
            return Symbol(code, "BJ" if infer_exchange(code) == "BJ" else "SZ")
        except ValueError:
            return Symbol(code, "SZ")
    raise BadPayload(f"unknown market {market!r} for code {code!r}")


def _decode(text: str) -> dict[str, Any]:
    return load_object(text, "data")


def parse_list_page(text: str, kind: InstrumentKind) -> tuple[int, list[ListingRecord]]:
    """One ``clist`` page: ``(total, records)``; ``(0, [])`` when ``data`` is null (past the end)."""
    data = _decode(text)["data"]
    if data is None:
        return 0, []
    if not isinstance(data, dict):
        raise BadPayload("'data' is neither an object nor null")
    diff = data.get("diff") or []
    rows = list(diff.values()) if isinstance(diff, dict) else diff
    if not isinstance(rows, list):
        raise BadPayload("'data.diff' is neither a list nor an object")
    return int(data.get("total") or 0), [parse_list_row(row, kind) for row in rows]


def parse_list_row(row: dict[str, Any], kind: InstrumentKind) -> ListingRecord:
    """One ``diff`` row; the quote is None unless the day's OHLCV is all there."""
    if not isinstance(row, dict) or "f12" not in row:
        raise BadPayload(f"list row without a code: {row!r:.120}")
    code = str(row["f12"])
    symbol = symbol_from_market(code, row.get("f13"))
    is_etf = kind == InstrumentKind.ETF
    default_decimals = 3 if is_etf else 2
    decimals, updated_at, quote, problem = default_decimals, None, None, None
    try:  # a row's numbers may be anything a broken host sends: a bad one fails this row only
        decimals_raw = wire_decimal(row.get("f1"))
        if decimals_raw is not None:
            decimals = int(decimals_raw)
        if (stamp := wire_decimal(row.get("f124"))) is not None and stamp.is_finite() and stamp > 0:
            updated_at = dt.datetime.fromtimestamp(int(stamp), tz=dt.UTC)
        quote = _list_quote(row, decimals, updated_at)
    except (BadPayload, ArithmeticError, ValueError, OverflowError) as exc:
        problem = f"unparseable quote ({type(exc).__name__}: {exc})"
    return ListingRecord(
        symbol=symbol,
        name=str(row.get("f14") or "").strip(),
        is_etf=is_etf,
        asset_type="etf" if is_etf else classify_code(code, symbol.exchange),
        quote=quote,
        decimals=decimals,
        updated_at=updated_at,
        problem=problem,
        raw={key: str(value) if isinstance(value, Decimal) else value for key, value in row.items()},
    )


def _list_quote(row: dict[str, Any], decimals: int, updated_at: dt.datetime | None) -> BarRecord | None:
    prices = [_price(row.get(key), decimals) for key in ("f17", "f15", "f16", "f2")]
    volume = _lots_to_shares(row.get("f5"))
    amount = wire_decimal(row.get("f6"))
    day = _list_day(row.get("f297"), updated_at)
    open_, high, low, close = prices
    if open_ is None or high is None or low is None or close is None:
        return None
    if volume is None or amount is None or day is None:
        return None
    return BarRecord(
        day=day,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        amount=amount,
        prev_close=_price(row.get("f18"), decimals),
        amplitude_pct=wire_decimal(row.get("f7")),
        change_pct=wire_decimal(row.get("f3")),
        turnover_pct=wire_decimal(row.get("f8")),
    )


def _list_day(raw: Any, updated_at: dt.datetime | None) -> dt.date | None:
    """``f297`` (YYYYMMDD); failing that, the Shanghai date of the ``f124`` update time."""
    value = wire_decimal(raw)
    if value is not None and (not value.is_finite() or value > 0):
        try:
            return dt.datetime.strptime(str(int(value)), "%Y%m%d").date()
        except (ValueError, OverflowError):
            raise BadPayload(f"bad data date f297={raw!r}") from None
    if updated_at is not None:
        return updated_at.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    return None


def _kline_payload(text: str, symbol: Symbol) -> tuple[dict[str, Any], int, list[Any]]:
    """The checked ``data`` object of a ``kline/get`` answer, its price decimals and rows."""
    data = _decode(text)["data"]
    if data is None:
        raise UnknownInstrument(f"East Money has no instrument with secid {symbol.secid} (data: null)")
    if not isinstance(data, dict):
        raise BadPayload("'data' is neither an object nor null")
    if str(data.get("code", symbol.code)) != symbol.code:
        raise BadPayload(f"asked for {symbol.code}, the host answered for {data.get('code')!r}")
    decimals_raw = wire_decimal(data.get("decimal"))
    decimals = int(decimals_raw) if decimals_raw is not None else 3
    klines = data.get("klines") or []
    if not isinstance(klines, list):
        raise BadPayload("'data.klines' is not a list")
    return data, decimals, klines


def _within(series: BarSeries, start: dt.date | None, end: dt.date | None) -> BarSeries:
    """The series cut to ``start``..``end`` (the host may answer a few days more)."""
    bars = [b for b in series.bars if (start is None or b.day >= start) and (end is None or b.day <= end)]
    if len(bars) == len(series.bars):
        return series
    return BarSeries(series.symbol, series.adjust, bars, series.decimals, series.name, series.provider)


def parse_kline(text: str, symbol: Symbol, adjust: Adjust) -> BarSeries:
    """A ``kline/get`` response as a ``BarSeries``; ``UnknownInstrument`` for ``data: null``."""
    data, decimals, klines = _kline_payload(text, symbol)
    bars = []
    quantum = Decimal(1).scaleb(-decimals)
    for line in klines:
        bar = parse_kline_row(line, decimals, quantum)
        if bar is None:
            logger.warning("%s: skipped a kline row without a full bar: %r", symbol, line)
            continue
        bars.append(bar)
    return BarSeries(
        symbol=symbol,
        adjust=adjust,
        bars=bars,
        decimals=decimals,
        name=str(data.get("name") or "").strip(),
        provider=EastMoneyProvider.name,
    )


def parse_kline_row(line: Any, decimals: int, quantum: Decimal | None = None) -> BarRecord | None:
    """``date,open,close,high,low,volume(lots),amount,amplitude%,change%,change,turnover%``.

    Returns None for a row lacking a date, a price or the volume (``"-"``); a missing amount
    is kept as unknown (None). This runs once per bar of every backfill (millions of rows).
    """
    if not isinstance(line, str):
        raise BadPayload(f"kline row is not a string: {line!r:.80}")
    fields = line.split(",")
    if len(fields) < 7:
        raise BadPayload(f"kline row has {len(fields)} fields, expected 11: {line!r:.120}")
    if len(fields) < 11:
        fields += [NO_VALUE] * (11 - len(fields))
    date_text = fields[0]
    if date_text in ("", NO_VALUE):
        return None
    try:
        day = dt.date.fromisoformat(date_text[:10])
    except ValueError:
        raise BadPayload(f"bad kline date {date_text!r}") from None
    if quantum is None:
        quantum = Decimal(1).scaleb(-decimals)
    try:  # the common case, inline: this loop dominates a backfill's CPU
        open_ = Decimal(fields[1]).quantize(quantum, ROUND_HALF_UP)
        close = Decimal(fields[2]).quantize(quantum, ROUND_HALF_UP)
        high = Decimal(fields[3]).quantize(quantum, ROUND_HALF_UP)
        low = Decimal(fields[4]).quantize(quantum, ROUND_HALF_UP)
        lots = Decimal(fields[5])
    except InvalidOperation:
        # Text that is no number fails the answer; Infinity (which cannot be quantized) stays
        # as it is, for the sync's validation to name the row and skip the instrument.
        values = wire_decimals(fields[1:6])
        if values is None:
            return None  # no trade, or no volume: not a bar
        open_, close, high, low = (v.quantize(quantum, ROUND_HALF_UP) if v.is_finite() else v for v in values[:4])
        lots = values[4]
    change = wire_decimal(fields[9])
    if change is None:
        prev_close = None
    elif close.is_finite() and change.is_finite():
        prev_close = (close - change).quantize(close)
    else:
        prev_close = close - change  # non-finite: validation names it
    shares = lots * LOT
    return BarRecord(
        day=day,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=int(shares) if shares.is_finite() else shares,
        amount=wire_decimal(fields[6]),  # None ("-") is kept as an unknown turnover
        prev_close=prev_close,
        amplitude_pct=wire_decimal(fields[7]),
        change_pct=wire_decimal(fields[8]),
        turnover_pct=wire_decimal(fields[10]),
    )


# Stored scale of the price columns: a host reporting more places takes the exact path.
PLAIN_MAX_DECIMALS = 3
# Rows must be dated after this (ISO text), strictly ascending: the day before the first session.
PLAIN_FIRST_DAY = "1990-12-18"
# A row moving this much against its reference is parsed exactly for the sync's limit check
# (below every exchange's limit; ``etfs.sync.validation`` decides).
PLAIN_MOVE_SCREEN = 0.095
_PLAIN_SIGNED = r"-?\d+(?:\.\d+)?"


@functools.lru_cache(maxsize=8)
def _plain_kline_row(decimals: int) -> re.Pattern[str]:
    """A kline row whose text is exactly what the columns store: ASCII digits, prices with
    at most ``decimals`` places (nothing to round), whole lots, every derived field present."""
    places = rf"(?:\.\d{{1,{decimals}}})?" if decimals > 0 else ""
    price = rf"\d{{1,11}}{places}"
    signed = _PLAIN_SIGNED  # the derived fields: any plain signed number
    return re.compile(
        rf"\d{{4}}-\d\d-\d\d,{price},{price},{price},{price},\d{{1,16}},\d+(?:\.\d+)?,"
        rf"{signed},{signed},{signed},{signed}",
        re.ASCII,
    )


def parse_kline_plain(
    text: str, symbol: Symbol, start: dt.date | None = None, end: dt.date | None = None
) -> PlainBars | BarSeries:
    """An unadjusted ``kline/get`` answer for bulk loading: ``PlainBars`` when every row in
    ``start``..``end`` is plain, else exactly what ``parse_kline`` (cut to the range) gives.

    Floats only *screen* here: a row is a price-plausibility failure (not positive, open or
    close outside low..high, a date not after the previous row's or before 1990) or an ex-day
    or big-move candidate by float arithmetic, and every such row is then decided exactly — a failure by the exact
    path, a candidate by parsing it and its predecessor into ``BarRecord``.
    """
    _, decimals, klines = _kline_payload(text, symbol)
    rows = _plain_rows(klines, decimals, start, end) if decimals <= PLAIN_MAX_DECIMALS else None
    exact = functools.partial(_exact_unadjusted, text, symbol, start, end)
    if rows is None:
        return exact()
    plain_rows, kept, candidates = rows
    quantum = Decimal(1).scaleb(-decimals)
    ex_pairs = []
    for index in candidates:
        previous = parse_kline_row(kept[index - 1], decimals, quantum)
        bar = parse_kline_row(kept[index], decimals, quantum)
        if previous is None or bar is None:  # cannot happen for a plain row; stay exact if it does
            return exact()
        ex_pairs.append((previous, bar))
    return PlainBars(symbol, decimals, plain_rows, ex_pairs, records=lambda: exact().bars)


def _exact_unadjusted(text: str, symbol: Symbol, start: dt.date | None, end: dt.date | None) -> BarSeries:
    return _within(parse_kline(text, symbol, Adjust.NONE), start, end)


def _plain_rows(
    klines: list[Any], decimals: int, start: dt.date | None, end: dt.date | None
) -> tuple[list[tuple[str, str, str, str, str, str, str]], list[str], list[int]] | None:
    """``(rows, their lines, ex-day candidate indexes)``, or None when a row is not plain."""
    match = _plain_kline_row(decimals).fullmatch
    first = start.isoformat() if start else ""
    last = end.isoformat() if end else "9999"
    from_iso = dt.date.fromisoformat
    rows: list[tuple[str, str, str, str, str, str, str]] = []
    kept: list[str] = []
    candidates: list[int] = []
    previous_close: float | None = None
    previous_day = PLAIN_FIRST_DAY
    for line in klines:
        if not isinstance(line, str) or match(line) is None:
            return None
        day, open_, close, high, low, lots, amount, _, _, change, _ = line.split(",")
        try:  # every row, as the exact parser checks every row
            from_iso(day)
        except ValueError:
            return None
        if day <= previous_day:
            return None  # a day twice, out of order, or before 1990: the exact path names it
        previous_day = day
        if day < first or day > last:
            continue
        low_value, close_value, high_value = float(low), float(close), float(high)
        if not 0 < low_value <= close_value <= high_value or not low_value <= float(open_) <= high_value:
            return None  # implausible: the exact path names it
        change_value = float(change)
        if previous_close is not None and (
            abs(close_value - change_value - previous_close) > 1e-9
            or abs(change_value) > PLAIN_MOVE_SCREEN * (close_value - change_value)
        ):
            candidates.append(len(rows))  # an ex-day, or a move the sync checks against its limit
        previous_close = close_value
        rows.append((day, open_, high, low, close, lots + "00", amount))
        kept.append(line)
    return rows, kept, candidates


def parse_kline_ticks(text: str, symbol: Symbol, start: dt.date | None, end: dt.date | None) -> PriceTicks:
    """An adjusted ``kline/get`` answer as integer ticks (open, high, low, close), fast.

    Adjusted prices may be negative (qfq subtracts every later distribution); rows without
    a price (``-``) are skipped as ``parse_kline`` skips them.
    """
    _, decimals, klines = _kline_payload(text, symbol)
    first = start.isoformat() if start else ""
    last = end.isoformat() if end else "9999"
    days: list[str] = []
    prices: list[str] = []
    for line in klines:
        if not isinstance(line, str):
            raise BadPayload(f"kline row is not a string: {line!r:.80}")
        fields = line.split(",", 5)
        if len(fields) < 6:
            raise BadPayload(f"kline row has {len(fields)} fields, expected 11: {line!r:.120}")
        day, open_, close, high, low = fields[:5]
        if day < first or day[:10] > last or NO_VALUE in (open_, close, high, low) or "" in (open_, close, high, low):
            continue
        days.append(day[:10])
        prices += (open_, high, low, close)
    try:
        ticks = ticks_of(prices, decimals)
        parsed_days = [dt.date.fromisoformat(day) for day in days]
    except ValueError as exc:
        raise BadPayload(f"not a kline price or date ({exc})") from None
    return PriceTicks(parsed_days, ticks, decimals)


class EastMoneyProvider(MarketDataProvider):
    """The default provider: whole-market lists with the day's quote, and daily history."""

    name = "eastmoney"

    def __init__(
        self,
        list_url: str | None = None,
        kline_url: str | None = None,
        options: ClientOptions | None = None,
    ) -> None:
        conf = settings.MARKETDATA
        self.list_url = list_url or conf["EASTMONEY_LIST_URL"]
        self.kline_url = kline_url or conf["EASTMONEY_KLINE_URL"]
        self.fund_splits_url = conf["EASTMONEY_FUND_SPLITS_URL"]
        self.stock_bonus_url = conf["EASTMONEY_STOCK_BONUS_URL"]
        self.clients = HostClients(options)
        self.stats: RequestStats = self.clients.stats

    def close(self) -> None:
        self.clients.close()

    def list_instruments(
        self, kind: InstrumentKind, exchanges: Iterable[str] = ("SH", "SZ", "BJ")
    ) -> Iterator[ListingRecord]:
        """Every page of the list, each instrument once, filtered to ``exchanges``."""
        wanted = {exchange.upper() for exchange in exchanges}
        if kind == InstrumentKind.ETF:
            universe = ETF_FILTER
        else:
            universe = ",".join(STOCK_FILTERS[e] for e in ("SH", "SZ", "BJ") if e in wanted)
        if not universe:
            return
        seen: set[Symbol] = set()
        total, records = self._list_page(kind, universe, 1)
        if total > MAX_LIST_ROWS:
            raise BadPayload(
                f"the {kind} list claims {total:,} rows (the first page had {len(records)}); no market "
                f"lists more than {MAX_LIST_ROWS:,}: refusing to page through it"
            )
        pages = math.ceil(total / max(1, min(PAGE_SIZE, len(records)))) if records else 0
        page = 1
        while True:
            new = 0
            for record in records:
                if record.symbol not in seen:
                    seen.add(record.symbol)
                    new += 1
                    if record.symbol.exchange in wanted:
                        yield record
            page += 1
            if page > pages or not new:  # past the end, or a host repeating its pages
                break
            _, records = self._list_page(kind, universe, page)
            if not records:
                break

    def _list_page(self, kind: InstrumentKind, universe: str, page: int) -> tuple[int, list[ListingRecord]]:
        params = {
            "pn": page,
            "pz": PAGE_SIZE,
            "po": 1,
            "np": 1,
            "fltt": 2,
            "invt": 2,
            "fid": "f12",
            "fs": universe,
            "fields": LIST_FIELDS,
            "ut": LIST_TOKEN,
        }
        return self.clients.get(self.list_url, params, parse=lambda text: parse_list_page(text, kind))

    def fetch_daily_bars(
        self,
        symbol: Symbol,
        start: dt.date | None = None,
        end: dt.date | None = None,
        adjust: Adjust = Adjust.NONE,
    ) -> BarSeries:
        adjust = Adjust(adjust)
        return self.clients.get(
            self.kline_url,
            _kline_params(symbol, start, end, adjust),
            parse=lambda text: _within(parse_kline(text, symbol, adjust), start, end),
            symbol=symbol.canonical,
        )

    supports_sessions = True

    def fetch_sessions(self, start: dt.date | None = None, end: dt.date | None = None) -> list[dt.date]:
        """Every day the SSE Composite (``1.000001``) has a bar: the exchanges' sessions since 1990."""
        return [bar.day for bar in self.fetch_daily_bars(SESSION_INDEX, start, end).bars]

    def fetch_plain_daily_bars(
        self, symbol: Symbol, start: dt.date | None = None, end: dt.date | None = None
    ) -> PlainBars | BarSeries:
        return self.clients.get(
            self.kline_url,
            _kline_params(symbol, start, end, Adjust.NONE),
            parse=lambda text: parse_kline_plain(text, symbol, start, end),
            symbol=symbol.canonical,
        )

    def fetch_price_ticks(
        self, symbol: Symbol, start: dt.date | None = None, end: dt.date | None = None, adjust: Adjust = Adjust.QFQ
    ) -> PriceTicks:
        return self.clients.get(
            self.kline_url,
            _kline_params(symbol, start, end, Adjust(adjust)),
            parse=lambda text: parse_kline_ticks(text, symbol, start, end),
            symbol=symbol.canonical,
        )

    def fetch_fund_splits(self, year: int) -> list[AnnouncedRecord]:
        """Every page of the dt=9 split/conversion table for ``year`` (``announcements``: the wire
        format), each record once, oldest first. A page answering for another page fails."""
        records: list[AnnouncedRecord] = []
        page, pages = 1, 1
        while page <= pages:
            total, answered, found = self.clients.get(
                self.fund_splits_url,
                _fund_splits_params(year, page),
                parse=parse_fund_splits_page,
                symbol=f"fund splits {year}",
                headers={"Referer": FUND_SPLITS_REFERER},
            )
            if total and answered != page:
                raise BadPayload(f"asked for page {page} of the {year} split table, the host answered page {answered}")
            if page == 1:
                pages = total
            records += found
            if not found:
                break  # past the end (the table shrank while it was read)
            page += 1
        return distinct_fund_splits(records)

    def fetch_stock_bonuses(self, codes: Sequence[str]) -> list[AnnouncedRecord]:
        """The implemented dividend/bonus rows of ``codes``, every page, ``STOCK_BONUS_BATCH`` codes a
        request; one record per code and ex-date (``merge_same_day``), oldest first."""
        wanted = list(dict.fromkeys(codes))
        bad = [code for code in wanted if not re.fullmatch(r"\d{6}", code)]
        if bad:
            raise ValueError(f"stock codes are six digits: {', '.join(map(repr, bad[:5]))}")
        rows: list[BonusRow] = []
        for start in range(0, len(wanted), STOCK_BONUS_BATCH):
            batch = wanted[start : start + STOCK_BONUS_BATCH]
            page, pages = 1, 1
            while page <= pages:
                total, found = self.clients.get(
                    self.stock_bonus_url,
                    _stock_bonus_params(batch, page),
                    parse=parse_stock_bonus_page,
                    symbol=batch[0] if len(batch) == 1 else f"{batch[0]}…{batch[-1]} ({len(batch)} codes)",
                    headers={"Referer": STOCK_BONUS_REFERER},
                )
                if page == 1:
                    pages = total
                rows += found
                page += 1
        return merge_same_day(rows)


def _fund_splits_params(year: int, page: int) -> dict[str, Any]:
    return {"dt": 9, "page": page, "rank": "FSRQ", "sort": "desc", "gs": "", "ftype": "", "year": year}


def _stock_bonus_params(codes: Sequence[str], page: int) -> dict[str, Any]:
    quoted = ",".join(f'"{code}"' for code in codes)
    return {
        "reportName": "RPT_SHAREBONUS_DET",
        "columns": "ALL",
        "filter": f"(SECURITY_CODE in ({quoted}))",
        "pageNumber": page,
        "pageSize": STOCK_BONUS_PAGE_SIZE,
        "sortColumns": "EX_DIVIDEND_DATE",
        "sortTypes": -1,
        "source": "WEB",
        "client": "WEB",
    }


def _kline_params(symbol: Symbol, start: dt.date | None, end: dt.date | None, adjust: Adjust) -> dict[str, Any]:
    return {
        "secid": symbol.secid,
        "klt": 101,
        "fqt": FQT[adjust],
        "beg": start.strftime("%Y%m%d") if start else "0",
        "end": end.strftime("%Y%m%d") if end else "20500101",
        "fields1": "f1,f2,f3,f4,f5,f6",
        "fields2": "f51,f52,f53,f54,f55,f56,f57,f58,f59,f60,f61",
        "ut": KLINE_TOKEN,
    }
