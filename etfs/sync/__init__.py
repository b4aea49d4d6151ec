"""The sync engine: instrument lists and daily bars from a market-data provider into the database.

``service.run_sync`` is the one entry point (commands, tasks, admin and API all call it with
one ``options.SyncOptions``; ``command`` is what ``sync_etfs`` and ``sync_stocks`` share); the
modules beside it each hold one step: ``listing`` (instrument lists), ``screening`` (where
validation is applied to the list, the snapshot and each instrument), ``validation`` (the
rules), ``bars`` (which bars to fetch and how: snapshot or history), ``steps`` (ex-days and
their terms from the raw and qfq series), ``actions`` (recording them as ``CorporateAction``
rows, and the snapshot's hint of one), ``audit`` (``--verify-adjustments``: our qfq/hfq against
the provider's), ``runs`` (the SyncRun lifecycle and the one-run-per-kind lock). Writing bars
(``prices.writer``: ``COPY`` and upserts, whole instruments per transaction) and holding
suspicious ones for a curator (``prices.quarantine``) belong to the bars, one layer down.
"""
