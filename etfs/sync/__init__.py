"""The sync engine: instrument lists and daily bars from a market-data provider into the database.

``service.run_sync`` is the one entry point (commands, tasks, admin and API all call it);
the modules beside it each hold one step: ``listing`` (instrument lists), ``bars`` (which
bars to fetch and how), ``writer`` (batched upserts), ``actions`` (ex-days found in quotes),
``runs`` (the SyncRun lifecycle and the one-run-per-kind lock).
"""
