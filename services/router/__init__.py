"""The router: assigns each classified call to a queue (street 直派, department 委办局, district, manual).

Layout (what each module is):

- entry point: ``__main__`` (``python -m services.router``) reads ``RouterSettings`` once;
- settings: ``settings`` — the process's one settings class, prefix ``HOTLINE_ROUTER_``;
- composition root: ``app`` — ``build_app(settings)`` loads the catalogue and the gazetteer, connects the
  ``cases`` read model (MongoDB) and wires them into the agents;
- adapter: ``agent`` (faust: classified calls and case events in, routed calls and case steps out, dead
  letters; with the batch-level steps ``route_parsed`` / ``decide_case_event`` it calls);
- pure domain, no I/O: ``routing`` (``route_call``: the queue of a call), ``cases`` (re-dispatch after a
  return, re-routing), ``duplicates`` (a new call as a duplicate of an open case), ``returns`` (what a return's reason names: a unit, a place, "not our
  area"), ``catalogue_check`` (``hotline catalogue check``), ``suggest``
  (``hotline catalogue suggest``: rules learned from returns and manual dispatches), ``urgency`` (the learned
  urgency scorer, trained at start-up on ``data/urgency_examples.jsonl``, combined with the life-or-safety
  rules), ``lead`` (the learned lead scorer, trained at start-up on ``data/lead_examples.jsonl``, which leads a
  call with another unit than its rule's when it is sure);
- tools: ``bench`` (cost per call).

What intake and the console read too lives in ``shared/``: the dispatch catalogue 派单目录
(``shared.catalogue``, reloaded by ``shared.catalogue_watch``), the gazetteer of districts and
streets/towns 街乡镇 (``shared.gazetteer``) and the due times (``shared.deadlines``).
"""
