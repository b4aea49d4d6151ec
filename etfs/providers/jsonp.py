"""Decode the JSON bodies quote hosts send, bare or wrapped for a browser.

East Money wraps its JSON in a JSONP callback when a ``cb=`` parameter is sent
(``name({...});``); Tencent assigns it to a variable when ``_var=`` is sent (``name={...}``).
Numbers are decoded as ``Decimal`` so prices keep exactly the digits the host wrote.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from etfs.providers.errors import BadPayload

_CALLBACK = re.compile(r"^[\w$.]+\s*\((?P<body>.*)\)\s*;?$", re.DOTALL)
_ASSIGNMENT = re.compile(r"^(?:var\s+)?[\w$.]+\s*=\s*(?P<body>.*?);?$", re.DOTALL)


def loads_jsonp(text: str) -> Any:
    """Parse a JSON, JSONP (``cb(...)``) or ``name={...}`` body; ``ValueError`` if it is none of them."""
    body = text.strip().lstrip("\ufeff")
    if body[:1] not in ("{", "["):
        match = _CALLBACK.match(body) or _ASSIGNMENT.match(body)
        if match is None:
            raise ValueError("not JSON, JSONP or a JavaScript assignment")
        body = match["body"].strip()
    return json.loads(body, parse_float=Decimal)


def load_object(text: str, key: str | None = None, answer: str = "body") -> dict[str, Any]:
    """A body that must be a JSON object (bare or wrapped), holding ``key`` when one is named;
    otherwise ``BadPayload``, naming the ``answer``."""
    try:
        payload = loads_jsonp(text)
    except ValueError as exc:
        raise BadPayload(f"unparseable {answer} ({exc})") from None
    if not isinstance(payload, dict):
        raise BadPayload(f"the {answer} is not a JSON object")
    if key is not None and key not in payload:
        raise BadPayload(f"no {key!r} key in the {answer}")
    return payload
