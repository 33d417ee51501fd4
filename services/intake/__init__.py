"""The REST intake (接诉): other systems submit calls here; each becomes a CallReceived event, acked=all.

Layout (what is pure and what touches the outside world):

- composition root: ``__main__`` (reads :class:`~services.intake.settings.IntakeSettings` once, serves
  with uvicorn), ``settings`` (the process's one settings class, ``HOTLINE_INTAKE_*``), ``app``
  (``create_app(settings)``: wires the adapters onto ``app.state`` and includes the routes);
- HTTP edge: ``routes/`` (one APIRouter per resource: ``health``, ``calls``, ``cases``, ``programme``;
  ``routes.common`` holds the one publish-or-503 step and the error bodies), ``deps`` (typed FastAPI
  dependencies: settings, adapters, the caller's API key and scope), ``openapi`` (the API's description);
- pure domain, no I/O (tested without a broker): ``schemas`` (request and response bodies), ``domain``
  (language, phone normalising, hashing and masking, the CallReceived event), ``submissions`` (judging a
  call or a batch), ``cases`` (who may take which case step and the CaseEvent it becomes), ``programme``
  (每月一题 updates);
- Open311 GeoReport v2 (``open311/``: ``routes``, ``formats``, ``mapping``): filing publishes the same
  ``CallReceived``; following a request reads the metrics read API over HTTP (``IntakeSettings.metrics_url``);
- adapters: ``publisher`` (Kafka, acks=all), ``case_store`` (the metrics-owned ``cases`` collection,
  read only through ``shared.cases.CaseReadModel``); the API-key file is ``shared.api_keys`` (the console's
  user command writes it too), the dispatch catalogue ``shared.catalogue_watch``.
"""
