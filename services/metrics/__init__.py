"""The metrics service: routed calls into MongoDB cases and counters, a read API and a queue page.

Two processes, laid out as entrypoint → composition root → domain / adapters:

- entrypoints: ``__main__.py`` (``python -m services.metrics``, the worker) and ``api/__main__.py``
  (``python -m services.metrics.api``, the read API and the live queue page);
- composition roots: ``app.build_app`` (the faust worker: the store wired into ``agent.register_agents``) and
  ``api/app.create_app`` (FastAPI: the stores, the scoreboard and the routers); settings are read in the
  entrypoints and passed down;
- domain, pure (no I/O, tested without a broker or a database): ``case_facts.py`` (the case document,
  lifecycle steps applied to it, deadlines), ``aggregates.py`` (what a case contributes to the counters,
  a batch's counter changes), ``scoreboard.py`` (三率, composite score, ranking,
  supervision, hot spots), ``programme.py`` (the 每月一题 programme's progress over the shared file,
  ``shared/programme.py``), ``corrections.correction_record``;
- application: ``queries.Scoreboard`` (dashboard figures from a few counter reads);
- adapters: ``store/`` (MongoDB, one module per concern; ``repository.MetricsRepository`` wires them as one
  object for the worker, the CLI and the tests), ``agent.py`` (Kafka in and out, via faust), ``api/``
  (HTTP: ``routes/`` one router per resource, ``views.py`` response models, ``static/`` the queue page).
"""
