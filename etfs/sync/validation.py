"""The rules every bar and list row passes before it may reach the database.

Two kinds of verdict. *Invalid* data can never be true (NaN, a non-positive price, a close
above the high, a day twice, a date in 1479 or after today, a code no exchange issues, a
name longer than the column): the instrument is skipped for this run and the ``SyncRun``
says why, naming the row (``InvalidData``). *Suspicious* data is plausible-looking but
impossible without an event we do not know of (a day's move beyond the exchange's price
limit): the day is held back for a curator (``prices.QuarantinedBar``) and the rest of the
instrument is written.

Everything here is pure (no database): fetcher threads call it. Which rules apply to which
instrument comes from ``BarRules``, built once per run on the writer's thread.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from etfs.providers.base import BarRecord, InstrumentKind, ListingRecord, PlainBars
from etfs.providers.errors import BadPayload
from etfs.symbols import Symbol, infer_exchange

# The Shanghai exchange's first session: no A-share or fund bar is older.
FIRST_SESSION = dt.date(1990, 12, 19)
# The columns: numeric(14,3) prices, numeric(20,2) amounts, bigint volumes, varchar names.
MAX_PRICE = Decimal("99999999999.999")
MAX_AMOUNT = Decimal("999999999999999999.99")
MAX_VOLUME = 2**63 - 1
MAX_NAME = 128  # etfs.Instrument.name
_CODE = re.compile(r"\d{6}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Code prefixes each list may carry (docs/data-sources.md): SH funds 5xxxxx, SZ funds 1xxxxx.
ETF_PREFIXES = {"SH": ("5",), "SZ": ("1",)}
STOCK_PREFIXES = {"SH": ("60", "68", "90"), "SZ": ("00", "20", "30"), "BJ": ("4", "8", "92")}

# Daily price limits (fractions of the reference previous close). Stocks: main boards 10 %,
# ChiNext (30xxxx) and STAR (68xxxx) 20 %, Beijing 30 %. ETFs are limited to 10 % too, but
# the check is about data no fund can produce, so it allows twice that.
MAIN_BOARD_LIMIT = Decimal("0.10")
GROWTH_BOARD_LIMIT = Decimal("0.20")
BEIJING_LIMIT = Decimal("0.30")
ETF_LIMIT = Decimal("0.20")
# Risk-warning stocks (names ``ST…``/``*ST…``) on the main boards were limited to 5 % until the
# exchanges' rule change of 2025-07-07 made it 10 % there too; on ChiNext, STAR and Beijing they
# keep their board's limit. The name is today's: it tells the limit of today's quote only (a
# stock's history may predate its warning), so the sync applies it to the snapshot quote.
RISK_WARNING_LIMIT = Decimal("0.05")
RISK_WARNING_LIMIT_UNTIL = dt.date(2025, 7, 6)
_RISK_WARNING_NAME = re.compile(r"\s*S?[*＊]?ST")
# Rounding to the tick lets a limit-up day exceed the limit by a little.
LIMIT_SLACK = Decimal("0.01")
# New listings trade without a limit for their first days (5 on ChiNext/STAR, 1 elsewhere).
UNLIMITED_FIRST_BARS = 5
# Reference previous closes this far from the previous close cannot be a split or a
# distribution (ETF splits seen: 1:2 to 1:10; stock bonus issues at most 10 for 10 plus cash).
MAX_SPLIT_FACTOR = Decimal(50)
# Any row moving this much gets a closer look on the bulk-loading lane (below every limit).
PLAIN_MOVE_SCREEN = 0.095


class InvalidData(BadPayload):
    """A row no provider can truthfully send: the instrument is skipped for this run."""

    def __init__(self, reason: str, row: object = None) -> None:
        self.reason = reason
        self.row = row
        super().__init__(f"{reason}; row: {_describe(row)}" if row is not None else reason)


def _describe(row: object) -> str:
    if isinstance(row, BarRecord):
        return (
            f"{row.day} open={row.open} high={row.high} low={row.low} close={row.close} "
            f"volume={row.volume} amount={row.amount}"
            + (f" prev_close={row.prev_close}" if row.prev_close is not None else "")
        )
    return f"{row!r:.300}"


def price_limit(symbol: Symbol, *, is_etf: bool, name: str = "", day: dt.date | None = None) -> Decimal:
    """The widest daily move the exchange allows an instrument (see the constants above); with
    the instrument's ``name`` on ``day``, a risk-warning stock's narrower limit where it applies."""
    if is_etf:
        return ETF_LIMIT
    if symbol.exchange == "BJ":
        return BEIJING_LIMIT
    if symbol.code.startswith(("30", "68")):
        return GROWTH_BOARD_LIMIT
    if is_risk_warning(name) and day is not None and day <= RISK_WARNING_LIMIT_UNTIL:
        return RISK_WARNING_LIMIT
    return MAIN_BOARD_LIMIT


def is_risk_warning(name: str) -> bool:
    """``ST``, ``*ST`` (and the old ``SST``/``S*ST``): the exchange's risk warning, in the name."""
    return _RISK_WARNING_NAME.match(name.upper()) is not None


@dataclass(frozen=True)
class BarRules:
    """What one instrument's bars must satisfy in this run."""

    symbol: str
    decimals: int
    limit: Decimal
    today: dt.date  # no bar may be dated later (the run's date in Shanghai)
    list_date: dt.date | None = None
    delist_date: dt.date | None = None
    # Ex-days already known (stored corporate actions): they explain a jump.
    action_days: frozenset[dt.date] = frozenset()
    # The last of the first sessions after listing, which trade without a limit.
    unlimited_until: dt.date | None = None

    @property
    def tick(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimals)


# --- invalid: never stored -------------------------------------------------------------------
def bar_problem(bar: BarRecord, rules: BarRules) -> str | None:
    """Why ``bar`` cannot be true, or None."""
    prices = (bar.open, bar.high, bar.low, bar.close)
    for name, value in zip(("open", "high", "low", "close"), prices, strict=True):
        if not isinstance(value, Decimal) or not value.is_finite():
            return f"{name} is not a finite number"
        if value <= 0:
            return f"{name} is not positive"
        if value > MAX_PRICE:
            return f"{name} is too large to store"
    if not bar.low <= bar.open <= bar.high or not bar.low <= bar.close <= bar.high:
        return "open and close must lie between low and high"
    if bar.prev_close is not None and (not bar.prev_close.is_finite() or bar.prev_close <= 0):
        return "the reference previous close is not a positive number"
    if not isinstance(bar.volume, int) or isinstance(bar.volume, bool) or not 0 <= bar.volume <= MAX_VOLUME:
        return "volume is not a whole non-negative number"
    if bar.amount is not None and (not bar.amount.is_finite() or not 0 <= bar.amount <= MAX_AMOUNT):
        return "amount is not a finite non-negative number"
    return day_problem(bar.day, rules)


def day_problem(day: dt.date, rules: BarRules) -> str | None:
    if day < FIRST_SESSION:
        return f"dated {day}, before the first session of any Chinese exchange ({FIRST_SESSION})"
    if day > rules.today:
        return f"dated {day}, after today ({rules.today})"
    if rules.list_date is not None and day < rules.list_date:
        return f"dated {day}, before the instrument's listing ({rules.list_date})"
    if rules.delist_date is not None and day > rules.delist_date:
        return f"dated {day}, after the instrument left the list ({rules.delist_date})"
    return None


def validate_bars(bars: Sequence[BarRecord], rules: BarRules) -> None:
    """Raise ``InvalidData`` naming the first bad row: a bad bar, or days not strictly ascending."""
    previous: dt.date | None = None
    for bar in bars:
        problem = bar_problem(bar, rules)
        if problem is not None:
            raise InvalidData(problem, bar)
        if previous is not None and bar.day <= previous:
            what = "the same date twice" if bar.day == previous else "dates out of order"
            raise InvalidData(f"{what} in one answer", bar)
        previous = bar.day


def validate_plain(bars: PlainBars, rules: BarRules) -> None:
    """The bulk-loading lane's rows: the provider proved every row well-formed, positive,
    inside its own high/low and in strictly ascending order since 1990 (see
    ``eastmoney._plain_rows``); what only the instrument knows is its life, checked at the ends."""
    if bars.rows:
        for day in {bars.rows[0][0], bars.rows[-1][0]}:
            problem = day_problem(dt.date.fromisoformat(day), rules)
            if problem is not None:
                raise InvalidData(problem, bars.rows[0 if day == bars.rows[0][0] else -1])


def listing_problem(record: ListingRecord, kind: InstrumentKind) -> str | None:
    """Why a list row names no instrument we could store (a code or name off the rules)."""
    symbol = record.symbol
    code = symbol.code
    if not _CODE.fullmatch(code):
        return f"code {code!r} is not six digits"
    try:
        exchange = infer_exchange(code)
    except ValueError:
        exchange = None
    prefixes = (ETF_PREFIXES if kind == InstrumentKind.ETF else STOCK_PREFIXES).get(symbol.exchange, ())
    if exchange != symbol.exchange or not code.startswith(prefixes):
        return f"code {code} is not a {kind} code of {symbol.exchange}"
    if len(record.name) > MAX_NAME:
        return f"name of {len(record.name)} characters (at most {MAX_NAME})"
    if _CONTROL.search(record.name):
        return "name contains control characters"
    return None


# --- suspicious: held for a curator ------------------------------------------------------------
def move_problem(bar: BarRecord, previous_close: Decimal | None, rules: BarRules) -> str | None:
    """Why a valid bar is impossible without an event we do not know of, or None.

    The exchange limits a day's move against its reference previous close; a known ex-day
    (``rules.action_days``: stored, or found in the provider's qfq series this run) explains
    its own jump, since East Money's history quotes ``close − change`` as the previous *raw*
    close even on an ex-day (checked on real answers), and the list's ``f18`` gives the
    ex-reference only on the day itself. A reference that far from the previous close would
    be a split no exchange has seen.
    """
    reference = bar.prev_close if bar.prev_close is not None else previous_close
    if reference is None or reference <= 0:
        return None
    if bar.day in rules.action_days:
        return None
    allowed = rules.limit + LIMIT_SLACK + 2 * rules.tick / reference
    for name, value in (("close", bar.close), ("high", bar.high), ("low", bar.low)):
        move = value / reference - 1
        if abs(move) > allowed:
            return (
                f"{name} {value} is {move:+.1%} from the reference previous close {reference}, "
                f"beyond the ±{rules.limit:.0%} daily limit"
            )
    if previous_close is not None and bar.prev_close is not None and bar.day not in rules.action_days:
        factor = max(previous_close / reference, reference / previous_close)
        if factor > MAX_SPLIT_FACTOR:
            return (
                f"reference previous close {reference} against the previous close {previous_close} "
                f"implies a 1:{factor:.0f} split"
            )
    return None


@dataclass
class Screened:
    """A series after the move check: the bars to write and the days held back."""

    bars: list[BarRecord]
    held: list[tuple[BarRecord, str]]

    @property
    def tainted_days(self) -> set[dt.date]:
        """Days whose comparison with their predecessor is unreliable: each held day and the
        kept day after it (its previous bar is gone), where no action may be derived."""
        held = {bar.day for bar, _ in self.held}
        tainted = set(held)
        for day in sorted(held):
            following = next((b.day for b in self.bars if b.day > day), None)
            if following is not None:
                tainted.add(following)
        return tainted


def screen_moves(bars: Iterable[BarRecord], rules: BarRules, *, from_listing: bool = False) -> Screened:
    """Hold back every day whose move ``move_problem`` rejects; compare each with the last kept
    bar. ``from_listing``: the series starts at the listing, whose first days trade unlimited.

    Without a provider reference (``prev_close`` None) a jump that lasts is kept: the quotes
    cannot tell a split from an error there, and holding it would hold every later day too.
    """
    bars = list(bars)
    kept: list[BarRecord] = []
    held: list[tuple[BarRecord, str]] = []
    for index, bar in enumerate(bars):
        if (from_listing and index < UNLIMITED_FIRST_BARS) or (
            rules.unlimited_until is not None and bar.day <= rules.unlimited_until
        ):
            kept.append(bar)
            continue
        previous_close = kept[-1].close if kept else None
        problem = move_problem(bar, previous_close, rules)
        if problem is not None and bar.prev_close is None:
            # No provider reference (Tencent): a lasting level change may be a split the quotes
            # cannot show; only a spike, which the next bar takes back, is held.
            following = bars[index + 1] if index + 1 < len(bars) else None
            if following is None or move_problem(following, previous_close, rules) is not None:
                problem = None
        if problem is None:
            kept.append(bar)
        else:
            held.append((bar, problem))
    return Screened(kept, held)
