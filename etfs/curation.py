"""Curated fields: values a curator set by hand, which the sync never overwrites.

``Instrument`` (its kind, name, listing) and ``FundProfile`` (a fund's facts) share the rule:
a field a curator edits is locked (``locked_fields``, a JSON list), and provider values
reach only the unlocked ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar


class Curated:
    """Mixin for a model with a ``locked_fields`` list and the ``CURATABLE_FIELDS`` a curator may lock."""

    CURATABLE_FIELDS: ClassVar[tuple[str, ...]]
    locked_fields: Any  # the model's JSONField: a list of field names (None on a row written without it)

    def is_locked(self, field: str) -> bool:
        return field in (self.locked_fields or [])

    def lock(self, *fields: str) -> None:
        unknown = set(fields) - set(self.CURATABLE_FIELDS)
        if unknown:
            raise ValueError(f"cannot lock {sorted(unknown)}; curatable fields are {self.CURATABLE_FIELDS}")
        self.locked_fields = sorted(set(self.locked_fields or []) | set(fields))

    def lock_edited(self, changed: Iterable[str]) -> None:
        """After a curator's form changed ``changed``: lock the curatable ones, so the next sync keeps
        their values — unless the curator edited ``locked_fields`` itself, whose list then stands."""
        changed = list(changed)
        edited = [name for name in changed if name in self.CURATABLE_FIELDS]
        if edited and "locked_fields" not in changed:
            self.lock(*edited)

    def set_unlocked(self, values: dict[str, Any]) -> list[str]:
        """Set each of ``values`` whose field is not locked; return the names whose value changed."""
        changed = []
        for field, value in values.items():
            if self.is_locked(field):
                continue
            if getattr(self, field) != value:
                setattr(self, field, value)
                changed.append(field)
        return changed
