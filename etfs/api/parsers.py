"""Request parsers that answer 400, never 500, whatever the body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, plus: nesting too deep for Python's decoder is a malformed request.

    ``json.loads`` of ``[[[[…]]]]`` 100,000 deep raises ``RecursionError``, which is not the
    ``ValueError`` DRF turns into 400; a request body of any shape must not reach a 500.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
