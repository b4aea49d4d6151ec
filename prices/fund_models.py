"""Fund data of ETFs by trading day: NAV, on-exchange shares and the closing snapshot's IOPV.

Each is its own TimescaleDB hypertable keyed like ``DailyBar`` (``time`` = the trading date at
00:00 Asia/Shanghai, one row per instrument and day), with one-year chunks for the same reason
(a few hundred rows per fund per year). On PostgreSQL and SQLite they are plain tables.

What is *not* stored, because it follows from what is: the premium/discount (``close / NAV −
1``, from ``DailyBar`` and ``FundNav`` of the same day, see ``prices.fund_queries``) and the net
creation/redemption flow (``Δshares × unit NAV``). Computing them on read keeps them consistent
with every revision of a close, a NAV or a share count.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from prices.models import DecimalSpec, TradingDayRow, day_index, one_row_per_day

# NAVs are published to 4 decimals (East Money's DWJZ/LJJZ); room for 10^10.
NAV: DecimalSpec = {"max_digits": 14, "decimal_places": 4}


class FundDay(TradingDayRow):
    """What every per-fund, per-day table shares: the instrument and the day (``TradingDayRow``)."""

    instrument = models.ForeignKey("etfs.Instrument", on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta(TradingDayRow.Meta):
        abstract = True


class FundNav(FundDay):
    """A published NAV: unit NAV (jumps at share conversions) and accumulated NAV (does not).

    Cross-border (QDII) funds publish a day or two late, so the newest rows of those funds
    trail the newest bars; the sync fills them in as they appear and updates revised values.
    """

    unit_nav = models.DecimalField(**NAV, help_text="单位净值, CNY per share")
    accumulated_nav = models.DecimalField(
        **NAV, null=True, blank=True, help_text="累计净值; empty when the host had not filled it yet"
    )

    class Meta(FundDay.Meta):
        constraints = [
            one_row_per_day("fundnav"),
            models.CheckConstraint(condition=Q(unit_nav__gt=0), name="fundnav_unit_positive"),
        ]
        indexes = [day_index("fundnav")]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.trading_date} NAV={self.unit_nav}"


class FundShares(FundDay):
    """On-exchange (场内) shares outstanding at the end of a trading day, in shares.

    SSE publishes 万份 (10,000 shares) and SZSE 份; the provider normalises both to shares.
    These are not the fund's total shares (which include off-exchange holdings).
    """

    shares = models.BigIntegerField(help_text="On-exchange shares outstanding")

    class Meta(FundDay.Meta):
        constraints = [
            one_row_per_day("fundshares"),
            models.CheckConstraint(condition=Q(shares__gte=0), name="fundshares_nonneg"),
        ]
        indexes = [day_index("fundshares")]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.trading_date} shares={self.shares}"


class FundQuote(FundDay):
    """The closing snapshot's IOPV and East Money's own premium field, kept from the day we start.

    No host keeps a history of these, so the sync stores them from the list snapshot it
    already fetches after the close. ``em_premium_pct`` is East Money's ``f402`` as sent:
    its sign convention is undocumented, which is why our premium is computed from close
    and NAV instead.
    """

    iopv = models.DecimalField(**NAV, null=True, blank=True, help_text="East Money f441 at the close")
    em_premium_pct = models.DecimalField(
        max_digits=10, decimal_places=4, null=True, blank=True, help_text="East Money f402 (%), sign undocumented"
    )

    class Meta(FundDay.Meta):
        constraints = [
            one_row_per_day("fundquote"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.trading_date} IOPV={self.iopv}"
