"""Fund facts of an ETF (tracking index, manager, custodian, fees, category, T+0) and sync cursors.

Facts come from the fund hosts (East Money's fund profile page, the SSE and SZSE fund lists)
and are refreshed weekly; a curator's edit locks the field (``locked_fields``), by the same
rule as the instrument's own fields (``etfs.curation.Curated``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models

from etfs.curation import Curated


class FundCategory(models.TextChoices):
    EQUITY = "equity", "Equity"
    BOND = "bond", "Bond"
    GOLD = "gold", "Gold"
    COMMODITY = "commodity", "Commodity"
    CROSS_BORDER = "cross_border", "Cross-border / QDII"
    MONEY_MARKET = "money_market", "Money market"


# Categories whose ETFs trade T+0 (shares bought today can be sold today). See ``t0_for``.
T0_CATEGORIES = frozenset(
    {
        FundCategory.BOND,
        FundCategory.GOLD,
        FundCategory.COMMODITY,
        FundCategory.CROSS_BORDER,
        FundCategory.MONEY_MARKET,
    }
)


def t0_for(category: str) -> bool:
    """Whether an ETF of ``category`` trades T+0 on SSE/SZSE.

    The rule (no exchange endpoint exposes a T+0 flag): bond, gold, commodity(-futures),
    cross-border (QDII, including Hong Kong) and money-market ETFs are T+0; equity ETFs
    holding A-shares are T+1, as the shares they hold are. A curator can override the flag
    of a single fund (the field then locks).
    """
    return category in T0_CATEGORIES


def category_from_type(fund_type: str, *names: str) -> str:
    """Our category from East Money's fund type (基金类型) and, for commodities, the names.

    East Money's taxonomy: ``指数型-股票``, ``指数型-固收``, ``指数型-海外股票``, ``QDII``,
    ``QDII-商品``, ``商品（不含QDII）`` ("commodity, not QDII"), ``货币型-普通货币``, ... A commodity
    fund tracking gold (黄金) is ``gold``; any QDII or overseas fund is ``cross_border`` first.
    """
    text = fund_type or ""
    if ("QDII" in text and "不含QDII" not in text) or "海外" in text:
        return FundCategory.CROSS_BORDER
    if "货币" in text:
        return FundCategory.MONEY_MARKET
    if "商品" in text:
        return FundCategory.GOLD if any("黄金" in (name or "") for name in names) else FundCategory.COMMODITY
    if "债" in text or "固收" in text:
        return FundCategory.BOND
    return FundCategory.EQUITY


class FundProfile(Curated, models.Model):
    """The facts of one ETF as a fund. ``instrument.list_date`` is its listing date."""

    CURATABLE_FIELDS = (
        "tracking_index_code",
        "tracking_index_name",
        "fund_company",
        "custodian",
        "inception_date",
        "category",
        "management_fee",
        "custody_fee",
        "t0",
    )

    instrument = models.OneToOneField("etfs.Instrument", on_delete=models.CASCADE, related_name="fund")
    tracking_index_code = models.CharField(max_length=16, blank=True, db_index=True)
    tracking_index_name = models.CharField(max_length=128, blank=True)
    fund_company = models.CharField(max_length=128, blank=True, db_index=True, help_text="基金管理人")
    custodian = models.CharField(max_length=128, blank=True, help_text="基金托管人")
    inception_date = models.DateField(null=True, blank=True, help_text="成立日期 (may precede listing)")
    category = models.CharField(max_length=16, choices=FundCategory.choices, blank=True, db_index=True)
    fund_type = models.CharField(max_length=64, blank=True, help_text="The host's fund type, as sent (基金类型)")
    management_fee = models.DecimalField(
        max_digits=6, decimal_places=4, null=True, blank=True, help_text="% per year (管理费率)"
    )
    custody_fee = models.DecimalField(
        max_digits=6, decimal_places=4, null=True, blank=True, help_text="% per year (托管费率)"
    )
    t0 = models.BooleanField(default=False, help_text="Trades T+0 (derived from the category; see etfs.funds.t0_for)")
    facts_fetched_at = models.DateTimeField(null=True, blank=True, help_text="Last refresh from the profile page")
    shares_since = models.DateField(
        null=True, blank=True, help_text="First day the exchange's share reports were read for this fund"
    )
    locked_fields = models.JSONField(default=list, blank=True, help_text="Fields a curator set by hand")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["instrument"]

    def __str__(self) -> str:
        return f"fund facts of {self.instrument_id}"

    def apply_provider_values(self, values: dict[str, Any]) -> list[str]:
        """Set provider values except locked and empty ones (T+0 follows the category); return what changed."""
        changed = self.set_unlocked({field: value for field, value in values.items() if value not in (None, "")})
        if self.category and not self.is_locked("t0") and self.t0 != t0_for(self.category):
            self.t0 = t0_for(self.category)
            changed.append("t0")
        return changed

    def facts_are_stale(self, now: dt.datetime, max_age: dt.timedelta) -> bool:
        return self.facts_fetched_at is None or now - self.facts_fetched_at >= max_age


class FundDataCursor(models.Model):
    """How far a by-date bulk source has been read (``shares:SH``, ``shares:SZ``).

    Exchange share lists answer one date (SSE) or one window (SZSE) for every ETF, so the
    sync remembers the last day it asked for instead of deriving it from rows: a fund the
    host leaves out of a day must not make every later run ask again from that day.
    """

    name = models.CharField(max_length=32, unique=True)
    day = models.DateField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} read to {self.day}"
