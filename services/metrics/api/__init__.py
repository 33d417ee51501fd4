"""The metrics read API (FastAPI) and the live queue page: ``python -m services.metrics.api``.

``app.py`` is the composition root (``create_app``), ``routes/`` holds one router per resource,
``views.py`` the response models, ``deps.py`` what routes share, ``static/`` the queue page.
"""

from __future__ import annotations

from services.metrics.api.app import create_app

__all__ = ["create_app"]
