"""Instrument names as people search for them.

Providers send names as typed at the exchange: full-width letters and digits (``黄金ＥＴＦ``)
and padding spaces (``万  科Ａ``). The display name keeps that text; search goes through
a normalised copy — Unicode NFKC (full-width → ASCII, compatibility forms folded) with
every space dropped — and the pinyin initials of it (``黄金ETF`` → ``HJETF``), the way
Chinese market software lets you type ``HJETF`` or ``ZSYH`` (招商银行).
"""

from __future__ import annotations

import unicodedata


def normalise_name(text: str) -> str:
    """NFKC with all whitespace removed: ``'万  科Ａ'`` → ``'万科A'``."""
    return "".join(unicodedata.normalize("NFKC", text or "").split())


def name_initials(text: str) -> str:
    """Upper-case pinyin initials of the normalised name; non-Chinese runs are kept as they are."""
    from pypinyin import Style, lazy_pinyin  # its dictionaries take ~20 MB: load only where names are written

    normalised = normalise_name(text)
    return "".join(lazy_pinyin(normalised, style=Style.FIRST_LETTER, errors="default")).upper()


def normalise_search_term(term: str) -> str:
    """A search term as the normalised names are stored (NFKC, no spaces)."""
    return normalise_name(term)
