"""Instrument symbols: parse every form users and providers write, emit the canonical one.

Canonical form is ``CODE.EXCHANGE`` (``510300.SH``). Providers address instruments
differently (East Money ``secid`` ``1.510300``; Tencent/Sina ``sh510300``), so the
conversions live here, next to the code-prefix rules from the data-sources doc.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXCHANGES = ("SH", "SZ", "BJ")

# East Money market ids: 1 = Shanghai, 0 = Shenzhen and Beijing.
EASTMONEY_MARKET = {"SH": 1, "SZ": 0, "BJ": 0}

_CANONICAL = re.compile(r"^(?P<code>\d{6})\.(?P<exchange>SH|SZ|BJ)$", re.IGNORECASE)
_PREFIXED = re.compile(r"^(?P<exchange>SH|SZ|BJ)(?P<code>\d{6})$", re.IGNORECASE)
_BARE = re.compile(r"^\d{6}$")
_SECID = re.compile(r"^(?P<market>[01])\.(?P<code>\d{6})$")
# Other tools' forms: baostock ``sh.510300``; JoinQuant/RiceQuant ``510300.XSHG``/``.XSHE``;
# GM (掘金) ``SHSE.510300``/``SZSE.``; Yahoo ``510300.SS`` (Shanghai) / ``.SZ`` (Shenzhen, as ours).
_DOTTED_PREFIX = re.compile(r"^(?P<exchange>SH|SZ|BJ)\.(?P<code>\d{6})$", re.IGNORECASE)
_SUFFIXES = {"XSHG": "SH", "XSHE": "SZ", "SS": "SH", "BJSE": "BJ"}
_SUFFIXED = re.compile(r"^(?P<code>\d{6})\.(?P<suffix>XSHG|XSHE|SS|BJSE)$", re.IGNORECASE)
_GM_PREFIXES = {"SHSE": "SH", "SZSE": "SZ", "BJSE": "BJ"}
_GM = re.compile(r"^(?P<prefix>SHSE|SZSE|BJSE)\.(?P<code>\d{6})$", re.IGNORECASE)
SYMBOL_FORMS = (
    "510300.SH, sh510300, SH510300, 1.510300 (East Money secid), 510300, sh.510300 (baostock), "
    "510300.XSHG / .XSHE (JoinQuant, RiceQuant), SHSE.510300 / SZSE. (GM), 510300.SS / .SZ (Yahoo)"
)


@dataclass(frozen=True, order=True)
class Symbol:
    """A parsed instrument identity: a six-digit code on one exchange."""

    code: str
    exchange: str

    def __str__(self) -> str:
        return self.canonical

    @property
    def canonical(self) -> str:
        return f"{self.code}.{self.exchange}"

    @property
    def prefixed(self) -> str:
        """Lower-case exchange prefix form used by Tencent and Sina (``sh510300``)."""
        return f"{self.exchange.lower()}{self.code}"

    @property
    def secid(self) -> str:
        """East Money's ``secid`` (``market.code``)."""
        return f"{EASTMONEY_MARKET[self.exchange]}.{self.code}"


def infer_exchange(code: str) -> str:
    """Infer the exchange of a bare six-digit code from its prefix.

    Shanghai: 5xxxxx funds, 6xxxxx stocks, 900xxx B shares. Shenzhen: 0/1/2/3xxxxx.
    Beijing: 43, 83, 87, 92. Index codes collide with stock codes, so indices always need
    an explicit exchange (this function treats every code as a security).
    """
    if not _BARE.match(code):
        raise ValueError(f"{code!r} is not a six-digit instrument code")
    if code[:2] in {"43", "83", "87", "92"}:
        return "BJ"
    if code[0] in "56" or code.startswith("900"):
        return "SH"
    if code[0] in "0123":
        return "SZ"
    raise ValueError(f"cannot infer the exchange of code {code!r}; write it as {code}.SH/.SZ/.BJ")


def parse_symbol(value: str) -> Symbol:
    """Parse every form in ``SYMBOL_FORMS``: ours, East Money's, Tencent's, baostock's, JoinQuant's,
    GM's and Yahoo's (a bare code gets its exchange from its prefix).

    Raises ``ValueError`` naming the input for anything else.
    """
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an instrument symbol")
    text = value.strip()
    if match := _CANONICAL.match(text) or _PREFIXED.match(text) or _DOTTED_PREFIX.match(text):
        return Symbol(match["code"], match["exchange"].upper())
    if match := _SUFFIXED.match(text):
        return Symbol(match["code"], _SUFFIXES[match["suffix"].upper()])
    if match := _GM.match(text):
        return Symbol(match["code"], _GM_PREFIXES[match["prefix"].upper()])
    if _BARE.match(text):
        try:
            return Symbol(text, infer_exchange(text))
        except ValueError as exc:
            raise ValueError(f"{value!r}: {exc}") from None
    if match := _SECID.match(text):
        code = match["code"]
        if match["market"] == "1":
            return Symbol(code, "SH")
        return Symbol(code, "BJ" if infer_exchange(code) == "BJ" else "SZ")
    raise ValueError(f"{value!r} is not an instrument symbol (expected one of: {SYMBOL_FORMS})")


def parse_symbols(values: list[str] | str) -> list[Symbol]:
    """Parse a list (or comma/space separated string) of symbols, de-duplicated, in order.

    Every bad entry is reported in one ``ValueError``, not just the first.
    """
    items = re.split(r"[,\s]+", values) if isinstance(values, str) else list(values)
    parsed: list[Symbol] = []
    errors: list[str] = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        try:
            symbol = parse_symbol(item)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        if symbol not in parsed:
            parsed.append(symbol)
    if errors:
        raise ValueError("; ".join(errors))
    return parsed


def classify_code(code: str, exchange: str) -> str:
    """Asset type a code's prefix implies: ``etf``, ``lof``, ``reit`` or ``stock``.

    Lists tell us what they hold (the ETF boards list ETFs); this is the fallback for a
    symbol typed by a user, following the exchange prefix rules.
    """
    if exchange == "SH":
        if (
            code[:3] in {"510", "511", "512", "513", "515", "516", "517", "518", "520", "530", "551", "588", "589"}
            or code[:2] == "56"
        ):
            return "etf"
        if code[:3] in {"501", "502", "506"}:
            return "lof"
        if code[:3] == "508":
            return "reit"
        return "stock"
    if exchange == "SZ":
        if code[:3] == "159":
            return "etf"
        if code[:2] == "16":
            return "lof"
        if code[:2] == "18":
            return "reit"
        return "stock"
    return "stock"
