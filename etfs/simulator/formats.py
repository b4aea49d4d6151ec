"""The wire formats the simulator answers in: East Money ``clist`` and ``kline``, Tencent ``fqkline``.

Field by field as ``docs/data-sources.md`` describes them (and the recorded payloads in
``etfs/tests/fixtures`` show): ``"-"`` for no trade, volumes in lots, kline strings with close
before high and low, ``data: null`` for an unknown ``secid``, pages of at most 100 rows.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
from decimal import Decimal
from typing import Any

from etfs.calendar import SHANGHAI
from etfs.providers.base import NO_VALUE, BarRecord
from etfs.simulator.market import SimInstrument, SimMarket

PAGE_CAP = 100
ENVELOPE = {"rc": 0, "rt": 6, "svr": 181669692, "lt": 1, "full": 1, "dlmkts": ""}
KLINE_ENVELOPE = {"rc": 0, "rt": 17, "svr": 181669692, "lt": 1, "full": 0, "dlmkts": ""}
KLINES_EMPTY = '"klines":[]'
FQT = {"0": "none", "1": "qfq", "2": "hfq"}
TENCENT_ADJUST = {"": ("none", "day"), "qfq": ("qfq", "qfqday"), "hfq": ("hfq", "hfqday")}
PRICE_FIELDS = ("f2", "f4", "f15", "f16", "f17", "f18", "f441")
PERCENT_FIELDS = ("f3", "f7", "f8", "f402")


def _dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=_json_number)


def _json_number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _wrap_jsonp(body: str, query: dict[str, str]) -> str:
    callback = query.get("cb")
    return f"{callback}({body});" if callback else body


def _fmt(value: Decimal | None, decimals: int) -> str:
    """A number at ``decimals`` places; East Money's ``"-"`` for one it has not."""
    return NO_VALUE if value is None else f"{value:.{decimals}f}"


def _change(bar: BarRecord) -> Decimal | None:
    """The day's change against the previous close it was quoted against."""
    return None if bar.prev_close is None else bar.close - bar.prev_close


def list_row(market: SimMarket, inst: SimInstrument, day: dt.date) -> dict[str, Any]:
    """One ``diff`` row as East Money sends it with ``fltt=2``; ``"-"`` where there was no trade."""
    latest = market.quote(inst.symbol)  # bars end at today, so never after ``day``; f18 = reference
    bar = latest if latest is not None and latest.day == day else None
    last_close = latest.close if latest is not None else inst.start_price
    stamp = int(dt.datetime.combine(day, dt.time(15, 0), SHANGHAI).timestamp())
    row: dict[str, Any] = {"f1": inst.decimals}
    if bar is None:
        row.update(dict.fromkeys(("f2", "f3", "f4", "f5", "f6", "f7", "f8", "f15", "f16", "f17"), "-"))
        row["f18"] = last_close
    else:
        row.update(
            {
                "f2": bar.close,
                "f3": bar.change_pct,
                "f4": _change(bar),
                "f5": bar.volume // 100,
                "f6": bar.amount,
                "f7": bar.amplitude_pct,
                "f8": bar.turnover_pct,
                "f15": bar.high,
                "f16": bar.low,
                "f17": bar.open,
                "f18": bar.prev_close,
            }
        )
    row.update({"f12": inst.symbol.code, "f13": inst.market, "f14": inst.name})
    row["f20"] = row["f21"] = (last_close * inst.float_shares).quantize(Decimal(1))
    row["f38"] = inst.float_shares if inst.is_etf else "-"
    row["f124"] = stamp
    row["f297"] = int(day.strftime("%Y%m%d"))
    row["f402"] = Decimal("0.00") if inst.is_etf and bar else "-"
    row["f441"] = bar.close if inst.is_etf and bar else "-"
    return row


def _matches(inst: SimInstrument, universe: str) -> bool:
    clauses = [set(clause.split()) for clause in universe.split(",") if clause.strip()]
    return not clauses or any(clause <= inst.tags for clause in clauses)


def _scaled(row: dict[str, Any], decimals: int) -> dict[str, Any]:
    """Without ``fltt=2`` the host sends prices as integers scaled by 10^decimals (percent by 100)."""
    scaled = dict(row)
    for key in PRICE_FIELDS:
        if isinstance(scaled.get(key), Decimal):
            scaled[key] = int(scaled[key].scaleb(decimals))
    for key in PERCENT_FIELDS:
        if isinstance(scaled.get(key), Decimal):
            scaled[key] = int(scaled[key].scaleb(2))
    return scaled


def render_list(market: SimMarket, query: dict[str, str]) -> str:
    """``clist/get``: filter by ``fs``, sort by ``fid``/``po``, page at most 100 rows."""
    day = market.snapshot_day()
    instruments = [inst for inst in market.listed() if _matches(inst, query.get("fs", ""))]
    rows = [list_row(market, inst, day) for inst in instruments]
    fid = query.get("fid", "f12")
    rows.sort(key=lambda row: _sort_key(row.get(fid)), reverse=query.get("po", "1") == "1")
    try:
        page = max(1, int(query.get("pn", "1")))
        size = min(PAGE_CAP, max(1, int(query.get("pz", "20"))))
    except ValueError:
        page, size = 1, 20
    chunk = rows[(page - 1) * size : page * size]
    if not chunk:
        data = None
    else:
        if query.get("fltt") != "2":
            chunk = [_scaled(row, row["f1"]) for row in chunk]
        if query.get("fields"):
            wanted = [name.strip() for name in query["fields"].split(",")]
            chunk = [{key: row[key] for key in wanted if key in row} for row in chunk]
        diff: Any = chunk if query.get("np") == "1" else {str(i): row for i, row in enumerate(chunk)}
        data = {"total": len(rows), "diff": diff}
    return _wrap_jsonp(_dumps({**ENVELOPE, "data": data}), query)


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, Decimal | int | float):
        return (1, Decimal(value))
    if value == "-" or value is None:
        return (0, 0)
    return (2, str(value))


def _parse_day(text: str | None, default: dt.date) -> dt.date:
    if not text or text == "0":
        return default
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return default


def kline_line(bar: BarRecord, decimals: int) -> str:
    """``date,open,close,high,low,volume(lots),amount,amplitude%,change%,change,turnover%``."""
    return ",".join(
        [
            bar.day.isoformat(),
            _fmt(bar.open, decimals),
            _fmt(bar.close, decimals),
            _fmt(bar.high, decimals),
            _fmt(bar.low, decimals),
            str(bar.volume // 100),
            _fmt(bar.amount, 2),
            _fmt(bar.amplitude_pct, 2),
            _fmt(bar.change_pct, 2),
            _fmt(_change(bar), decimals),
            _fmt(bar.turnover_pct, 2),
        ]
    )


def render_kline(market: SimMarket, query: dict[str, str]) -> str:
    """``stock/kline/get`` daily bars; ``data: null`` for an unknown ``secid``."""
    inst = market.find_secid(query.get("secid", ""))
    if inst is None:
        return _wrap_jsonp(_dumps({**KLINE_ENVELOPE, "data": None}), query)
    adjust = FQT.get(query.get("fqt", "0"), "none")
    bars = market.bars(inst.symbol, adjust)
    # Each line is kept JSON-encoded: a whole-history answer is then one join, not a dump of
    # thousands of strings (the simulator shares the benchmark's CPU with what it measures).
    lines, days = market.cached_render(
        ("kline", inst.symbol, adjust),
        lambda: ([json.dumps(kline_line(bar, inst.decimals)) for bar in bars], [bar.day for bar in bars]),
    )
    beg = _parse_day(query.get("beg"), dt.date.min)
    end = _parse_day(query.get("end"), dt.date.max)
    lo, hi = bisect.bisect_left(days, beg), bisect.bisect_right(days, end)
    if query.get("lmt", "").isdigit() and int(query["lmt"]) > 0:
        lo = max(lo, hi - int(query["lmt"]))
    chosen = bars[lo:hi]
    pre_k = bars[lo - 1].close if lo > 0 else chosen[0].prev_close if chosen else inst.start_price
    data = {
        "code": inst.symbol.code,
        "market": inst.market,
        "name": inst.name,
        "decimal": inst.decimals,
        "dktotal": len(bars),
        "preKPrice": pre_k,
        "klines": [],
    }
    body = _dumps({**KLINE_ENVELOPE, "data": data})
    head, tail = body.rsplit(KLINES_EMPTY, 1)
    return _wrap_jsonp(f'{head}"klines":[{",".join(lines[lo:hi])}]{tail}', query)


def render_tencent(market: SimMarket, query: dict[str, str]) -> str:
    """Tencent ``fqkline/get``: ``param=sh510300,day,START,END,640,qfq``; ``_var=`` assigns it."""
    parts = query.get("param", "").split(",")
    parts += [""] * (6 - len(parts))
    prefixed, _period, start, end, limit, fq = parts[:6]
    adjust, key = TENCENT_ADJUST.get(fq, TENCENT_ADJUST[""])
    inst = next((i for i in market.instruments() if i.symbol.prefixed == prefixed.lower()), None)
    if inst is None:
        payload: dict[str, Any] = {"code": 0, "msg": "", "data": {}}
    else:
        first = dt.date.fromisoformat(start) if start else dt.date.min
        last = dt.date.fromisoformat(end) if end else dt.date.max
        bars = [bar for bar in market.bars(inst.symbol, adjust) if first <= bar.day <= last]
        bars = bars[-int(limit) :] if limit.isdigit() and int(limit) > 0 else bars
        in_shares = inst.symbol.code.startswith(("688", "689"))  # STAR volumes come in shares
        rows = [
            [
                bar.day.isoformat(),
                _fmt(bar.open, inst.decimals),
                _fmt(bar.close, inst.decimals),
                _fmt(bar.high, inst.decimals),
                _fmt(bar.low, inst.decimals),
                f"{bar.volume if in_shares else bar.volume // 100}.000",
                {},
                _fmt(bar.turnover_pct, 2),
                NO_VALUE if bar.amount is None else str(bar.amount / 10000),
            ]
            for bar in bars
        ]
        payload = {"code": 0, "msg": "", "data": {inst.symbol.prefixed: {key: rows, "qt": {}, "version": "12"}}}
    body = _dumps(payload)
    variable = query.get("_var")
    return f"{variable}={body}" if variable else body
