"""The classifier process's one settings class (prefix ``HOTLINE_CLASSIFIER_``).

Read once, by the composition root (``services/classifier/app.py`` via ``__main__``), and passed down.
The platform-wide ``HOTLINE_*`` fields and the nested ``kafka`` / ``mongodb`` groups come from
``shared.settings.ServiceSettings``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import WorkerSettings


class ClassifierSettings(WorkerSettings):
    """Which model the classifier loads, how sure it must be before a call skips manual sorting, how it batches."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_CLASSIFIER_")

    model_path: Path | None = Field(None, description="Classifier artifact directory; default: the one shipped.")
    min_confidence: float = Field(
        0.5, ge=0, le=1, description="Below this level-1 probability a call needs manual review (人工分拣)."
    )
    requested_override_above: float = Field(
        0.9,
        ge=0,
        le=1,
        description="A citizen's chosen category (Open311 service_code) is replaced only when the model is at "
        "least this sure of another level-1 category.",
    )
    batch_size: int = Field(500, ge=1, description="Events classified together by the agent.")
    batch_window_seconds: float = Field(0.05, gt=0, description="Longest wait to fill a batch.")
