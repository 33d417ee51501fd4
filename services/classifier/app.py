"""The classifier's composition root: ``build_app(settings)`` loads the model and wires it into the faust agent.

The settings are read once, by ``__main__``, and passed in; nothing below reads the environment.
"""

from __future__ import annotations

import logging

import faust

from services.classifier.agent import SERVICE, register_agents
from services.classifier.model import Classifier
from services.classifier.settings import ClassifierSettings
from services.common.streaming import create_app

log = logging.getLogger(__name__)


def build_app(settings: ClassifierSettings) -> faust.App:
    """The classifier worker: the model (``HOTLINE_CLASSIFIER_MODEL_PATH`` or the shipped one) behind the agent."""
    model = Classifier.load(settings.model_path, min_confidence=settings.min_confidence)
    model.warm_up()
    log.info("classifier model %s loaded and warmed up", model.model_version)
    app = create_app(SERVICE, settings)
    register_agents(app, model, settings)
    return app
