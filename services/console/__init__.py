"""The operator console: live queues, case actions and the scoreboard, in the browser (a backend-for-frontend).

Server-rendered pages over the metrics read API; case steps are posted to intake with the signed-in
user's API key; the queues update live over server-sent events. Layout:

- composition root: ``__main__`` (reads :class:`~services.console.settings.ConsoleSettings` once, serves
  with uvicorn), ``settings`` (the process's one settings class, ``HOTLINE_CONSOLE_*``), ``app``
  (``create_app(settings)``: wires the adapters onto ``app.state`` and includes the pages);
- HTTP edge: ``routes/`` (one APIRouter per resource: ``health``, ``auth`` (sign-in), ``queues``,
  ``cases``, ``scoreboard``, ``live`` (SSE)), ``web`` (session user, language, rendering, error pages),
  ``openapi`` (the forms, query parameters and answers the OpenAPI document declares), ``templates/`` and
  ``static/``;
- pure domain, no I/O: ``access`` (who sees which queue and case, which steps to offer), ``views``
  (durations, charts; masking is shared.masking), ``i18n`` (Chinese and English), ``sessions`` (signed cookies);
- page models: ``scoreboard`` (the scoreboard's figures, read from the metrics API through ``clients``);
- adapters: ``clients`` (the metrics read API and intake over HTTP), ``live`` (one poller of the
  metrics API per process, fanned out to subscribers), ``users`` (the users file; also the
  ``python -m services.console.users`` command), ``reference`` (the dispatch catalogue's lists),
  ``security`` (the Origin check; the sign-in guard, its counts in MongoDB; the revoked-sessions file).
"""
