"""What every API view that takes an instrument in its path shares: the ``symbol`` path
parameter (any symbol form, documented with a pattern) and the lookup that answers 404 naming
the symbol. Shared by ``etfs.api`` and ``prices.api``, so it lives outside both view packages."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from rest_framework.exceptions import NotFound

from etfs.models import Instrument
from etfs.symbols import SYMBOL_FORMS, parse_symbol


def _any_case(word: str) -> str:
    """A regex matching ``word`` in any case, for JSON-schema patterns (which have no flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


_EXCHANGE = "(" + "|".join(_any_case(w) for w in ("SH", "SZ", "BJ")) + ")"
_SUFFIX = "(" + "|".join(_any_case(w) for w in ("SH", "SZ", "BJ", "XSHG", "XSHE", "SS", "BJSE")) + ")"
_GM = "(" + "|".join(_any_case(w) for w in ("SHSE", "SZSE", "BJSE")) + ")"
SYMBOL_PATTERN = rf"^(\d{{6}}(\.{_SUFFIX})?|{_EXCHANGE}\.?\d{{6}}|{_GM}\.\d{{6}}|[01]\.\d{{6}})$"
SYMBOL_PARAMETER = OpenApiParameter(
    "symbol",
    {"type": "string", "pattern": SYMBOL_PATTERN},
    OpenApiParameter.PATH,
    description=f"Any symbol form: {SYMBOL_FORMS}",
    examples=[
        OpenApiExample("canonical", value="510300.SH"),
        OpenApiExample("prefixed", value="sh510300"),
        OpenApiExample("JoinQuant", value="510300.XSHG"),
    ],
)


def get_instrument_or_404(queryset: QuerySet[Instrument], value: str) -> Instrument:
    """The instrument ``value`` names in any symbol form; 404 naming it (or saying why it is no symbol)."""
    try:
        symbol = parse_symbol(value)
    except ValueError as exc:
        raise NotFound(str(exc)) from None
    try:
        return queryset.get(symbol=symbol.canonical)
    except Instrument.DoesNotExist:
        raise NotFound(f"unknown instrument {symbol.canonical} (asked as {value!r})") from None
