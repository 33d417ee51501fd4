"""The classifier service: level-1 category by a trained model, level 2/3 and Monthly Question by rules.

Layout (what each module is):

- entry point: ``__main__`` (``python -m services.classifier``) reads ``ClassifierSettings`` once;
- settings: ``settings`` — the process's one settings class, prefix ``HOTLINE_CLASSIFIER_``;
- composition root: ``app`` — ``build_app(settings)`` loads the model and wires it into the agent;
- adapters: ``agent`` (faust: received calls in, classified calls out, dead letters) and ``cli``
  (``hotline classify``: JSON lines on stdin/stdout);
- pure domain, no I/O beyond reading the shipped artifacts: ``model`` (the ``Classifier``), ``features``,
  ``taxonomy``, ``multilingual`` (English requests), ``issues`` (每月一题 matching);
- offline tools, never imported by the running service: ``training`` (``hotline train``), ``evaluation``,
  ``corrections`` (operators' reclassifications as training rows), ``bench``.
"""
