"""The REST API's shared building blocks: what every view module (``etfs.api`` for instruments and
sync runs, ``prices.api`` for bars) takes alike — the ``symbol`` path parameter and its 404,
instrument filters, list pagination, the read-public/write-with-permission policy and the
refusal of unknown query parameters.

They live outside both view packages so that ``prices`` (which sits below ``etfs.api``) can use
them without importing a view module; this package imports only instrument basics and DRF.
"""
