"""The REST API (FastAPI) and the dashboard page: ``jackpot-pipeline serve`` / ``make serve``.

:mod:`~jackpot_pipeline.api.access` (tokens, roles, audit) and :mod:`~jackpot_pipeline.api.reads` (warehouse
and folders) need no Dagster; :mod:`~jackpot_pipeline.api.pipeline` is the app's one link to the Dagster
instance (launching the jackpot runs, trace, run and sensor states).
"""
