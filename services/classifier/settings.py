"""Settings of the classifier, read from the environment (prefix ``HOTLINE_CLASSIFIER_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ClassifierSettings(BaseSettings):
    """How sure the classifier must be before a call skips manual sorting, and how it batches."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_CLASSIFIER_", extra="ignore")

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
