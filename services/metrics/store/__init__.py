"""The metrics service's MongoDB adapter, one module per concern, all on one ``base.MetricsDatabase``.

``cases`` (case writes: routed calls and lifecycle steps, exactly once), ``pending`` (steps that came
before their case), ``counters`` (a batch's counter changes, queues' oldest waiting case), ``deadlines``
(the deadline watcher's flags), ``hotspots`` (主动治理), ``outbox`` (messages published after commit),
``open_cases`` (each queue's open cases in a digest that searches read), ``programme`` (每月一题 item updates), ``reads`` (the read API's queries), ``rebuild`` (counters
recomputed from the cases). ``services.metrics.repository.MetricsRepository`` wires them together.
"""
