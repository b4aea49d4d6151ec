"""Unknown query parameters answer 400 naming them, on every API view.

A misspelt filter (``?is_eft=true``) or a parameter we do not have (``?as_of=2024-01-02``)
used to be ignored: the caller got everything, or today's data, without a word. Each view
knows what it takes — its query serializer's fields, its filterset, search, ordering and
pagination parameters, and DRF's ``format`` — and anything else is refused.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.request import Request


class StrictQueryParamsMixin:
    """Refuse query parameters the view does not take (after authentication, before the work)."""

    #: Serializer classes whose fields are the view's own query parameters.
    query_serializers: tuple[type, ...] = ()
    #: Further parameters the view reads itself.
    extra_query_params: tuple[str, ...] = ()

    def allowed_query_params(self) -> frozenset[str]:
        """The names this view takes, worked out once per view class."""
        cls = type(self)
        cached = cls.__dict__.get("_allowed_query_params")
        if cached is None:
            cached = frozenset(self._collect_query_params())
            cls._allowed_query_params = cached  # type: ignore[attr-defined]
        return cached

    def _collect_query_params(self) -> set[str]:
        names = {"format", *self.extra_query_params}
        for serializer_class in self.query_serializers:
            names |= set(serializer_class().fields)
        pagination = getattr(self, "pagination_class", None)
        if pagination is not None:
            for attr in ("page_query_param", "page_size_query_param", "cursor_query_param"):
                if getattr(pagination, attr, None):
                    names.add(getattr(pagination, attr))
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None:
            names |= set(filterset_class.base_filters)
        for backend in getattr(self, "filter_backends", None) or []:
            if issubclass(backend, SearchFilter):
                names.add(backend.search_param)
            if issubclass(backend, OrderingFilter):
                names.add(backend.ordering_param)
        return names

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        allowed = self.allowed_query_params()
        unknown = sorted(set(request.query_params) - allowed) if request.query_params else []
        if unknown:
            takes = ", ".join(sorted(allowed))
            raise ValidationError({name: [f"Unknown parameter; this endpoint takes: {takes}."] for name in unknown})
