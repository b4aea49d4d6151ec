"""Poisoned answers: a layer over the simulator's rendered bodies that lies the way a broken
host does, for one instrument (``SimConfig.poison_symbol``) or the list.

The truth (``SimMarket``) stays clean: tests compare every other instrument with it and
check the poisoned one was skipped or held. Switches (``SimConfig.poison``, live like the
network switches; ``marketdata_simulator --poison NAME,…``):

| name | what the host sends |
| --- | --- |
| ``zero-quote`` | the instrument's list quote with open/high/low/close 0 |
| ``negative-low-quote`` | its quote with low −1 |
| ``inverted-quote`` | its quote with high below low |
| ``nan-quote`` | its quote's prices as ``"NaN"`` |
| ``thousandfold-quote`` | its quote at 1000× the price (previous close true) |
| ``nan-history`` | ``NaN`` prices in one row of its history |
| ``duplicate-day`` | one row of its history twice |
| ``negative-close`` | one history row with negative open and close, low still positive |
| ``close-above-high`` | one history row closing above its high |
| ``thousandfold-day`` | one history row at 1000× the price (reference previous close true) |
| ``year-1479`` | one history row dated 1479 |
| ``junk-codes`` | list rows with codes ``51030``, ``ABCDEF``, ``../../x``, a 13-digit code |
| ``long-name`` | the instrument's list name 300 characters long |
| ``million-rows`` | a list claiming 1,000,000 rows, repeating its last page past the end |

History poisons hit the unadjusted series on ``poison_day``: the instrument's middle bar.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from etfs.simulator.formats import render_list
from etfs.simulator.market import SimMarket

QUOTE_POISONS = ("zero-quote", "negative-low-quote", "inverted-quote", "nan-quote", "thousandfold-quote")
HISTORY_POISONS = (
    "nan-history",
    "duplicate-day",
    "negative-close",
    "close-above-high",
    "thousandfold-day",
    "year-1479",
)
LIST_POISONS = ("junk-codes", "long-name", "million-rows")
POISONS = (*QUOTE_POISONS, *HISTORY_POISONS, *LIST_POISONS)
JUNK_CODES = ("51030", "ABCDEF", "../../x", "5103000000000")
CLAIMED_ROWS = 1_000_000
_JSONP = re.compile(r"^(?P<head>[\w$.]+\()(?P<body>.*)(?P<tail>\);?)$", re.DOTALL)


def check_poisons(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The names, checked: ``ValueError`` naming an unknown one."""
    unknown = [name for name in names if name not in POISONS]
    if unknown:
        raise ValueError(f"unknown poison {', '.join(unknown)} (known: {', '.join(POISONS)})")
    return tuple(names)


def poison_target(market: SimMarket, symbol: str) -> Any:
    """The poisoned instrument: ``symbol``, or the first listed ETF quoted on the snapshot day."""
    if symbol:
        return market.instrument(symbol)
    day = market.snapshot_day()
    for inst in sorted(market.listed(), key=lambda i: i.symbol.canonical):
        last = market.last_bar(inst.symbol)
        if inst.is_etf and last is not None and last.day == day:
            return inst
    raise LookupError("no listed ETF has a bar on the snapshot day to poison")


def poison_day(market: SimMarket, symbol: Any) -> dt.date:
    """The day history poisons hit: the instrument's middle bar (stable across requests)."""
    bars = market.bars(symbol)
    return bars[len(bars) // 2].day


def _split(body: str) -> tuple[str, Any, str]:
    match = _JSONP.match(body)
    if match:
        return match["head"], json.loads(match["body"], parse_float=Decimal), match["tail"]
    return "", json.loads(body, parse_float=Decimal), ""


def _join(head: str, payload: Any, tail: str) -> str:
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=_number)
    return f"{head}{text}{tail}"


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value).__name__)


def poison_list(market: SimMarket, poisons: tuple[str, ...], symbol: str, query: dict[str, str], body: str) -> str:
    """The ``clist`` answer with the switched-on list and quote poisons applied."""
    active = [p for p in poisons if p in QUOTE_POISONS or p in LIST_POISONS]
    if not active:
        return body
    head, payload, tail = _split(body)
    data = payload.get("data")
    page = int(query["pn"]) if query.get("pn", "").isdigit() else 1
    if data is None and "million-rows" in active and page > 1:
        # Past the end: a broken host repeats its last page instead of answering null.
        last_query = {**query, "pn": "1"}
        _, payload, _ = _split(render_list(market, last_query))
        data = payload.get("data")
    if data is None:
        return body
    rows = data["diff"] if isinstance(data["diff"], list) else list(data["diff"].values())
    needs_target = any(p in QUOTE_POISONS or p == "long-name" for p in active)
    code = poison_target(market, symbol).symbol.code if needs_target else None
    for row in rows:
        if row.get("f12") != code:
            continue
        _poison_quote(row, active)
        if "long-name" in active:
            row["f14"] = ("长名" * 150)[:300]
    if "junk-codes" in active and page == 1 and rows:
        template = rows[0]
        for junk in JUNK_CODES:
            rows.append({**template, "f12": junk, "f14": f"junk {junk}"})
    if "million-rows" in active:
        data["total"] = CLAIMED_ROWS
    data["diff"] = rows if isinstance(data["diff"], list) else {str(i): row for i, row in enumerate(rows)}
    return _join(head, payload, tail)


def _poison_quote(row: dict[str, Any], active: list[str]) -> None:
    if "zero-quote" in active:
        row.update({"f2": 0, "f15": 0, "f16": 0, "f17": 0})
    if "negative-low-quote" in active:
        row["f16"] = -1
    if "inverted-quote" in active and isinstance(row.get("f15"), Decimal | int | float):
        row["f15"], row["f16"] = row["f16"], row["f15"] + 1
    if "thousandfold-quote" in active:
        row.update({key: row[key] * 1000 for key in ("f2", "f15", "f16", "f17") if isinstance(row.get(key), Decimal)})
    if "nan-quote" in active:
        row.update({"f2": "NaN", "f15": "NaN", "f16": "NaN", "f17": "NaN"})


def poison_kline(market: SimMarket, poisons: tuple[str, ...], symbol: str, query: dict[str, str], body: str) -> str:
    """The ``kline`` answer with the switched-on history poisons applied to ``poison_day``'s row
    of the poisoned instrument's unadjusted series."""
    active = [p for p in poisons if p in HISTORY_POISONS]
    if not active or query.get("fqt", "0") != "0":
        return body
    target = poison_target(market, symbol)
    if query.get("secid") != target.symbol.secid:
        return body
    head, payload, tail = _split(body)
    data = payload.get("data")
    if not data or not data.get("klines"):
        return body
    day = poison_day(market, target.symbol).isoformat()
    lines: list[str] = []
    for line in data["klines"]:
        if not line.startswith(day):
            lines.append(line)
            continue
        lines.extend(_poison_line(line, active, target.decimals))
    data["klines"] = lines
    return _join(head, payload, tail)


def _poison_line(line: str, active: list[str], decimals: int) -> list[str]:
    fields = line.split(",")
    day, open_, close, high, low = fields[0], *(Decimal(v) for v in fields[1:5])
    change = Decimal(fields[9])
    out = [line]
    if "duplicate-day" in active:
        out = [line, line]
    if "nan-history" in active:
        fields[1:5] = ["NaN"] * 4
    if "negative-close" in active:
        fields[1], fields[2] = f"{-open_:.{decimals}f}", f"{-close:.{decimals}f}"
    if "close-above-high" in active:
        fields[2] = f"{high + Decimal(10).scaleb(-decimals):.{decimals}f}"
    if "thousandfold-day" in active:
        reference = close - change
        fields[1:5] = [f"{v * 1000:.{decimals}f}" for v in (open_, close, high, low)]
        fields[9] = f"{close * 1000 - reference:.{decimals}f}"
    if "year-1479" in active:
        fields[0] = "1479" + day[4:]
    if "duplicate-day" not in active or len(active) > 1:
        out[-1] = ",".join(fields)
    return out
