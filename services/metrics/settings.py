"""Settings of the scoreboard, the deadline watcher and the hot-spot detector (prefix ``HOTLINE_METRICS_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ScoreboardSettings(BaseSettings):
    """How the three rates weigh into the composite score, supervision criteria and hot-spot thresholds."""

    model_config = SettingsConfigDict(
        env_prefix="HOTLINE_METRICS_", extra="ignore", validate_by_name=True, validate_by_alias=True
    )

    weight_response: float = Field(10, ge=0, description="Weight of 响应率 in the composite score.")
    weight_resolution: float = Field(50, ge=0, description="Weight of 解决率 in the composite score.")
    weight_satisfaction: float = Field(40, ge=0, description="Weight of 满意率 in the composite score.")
    basic_satisfaction_factor: float = Field(
        0.9, ge=0, description="How much a 'basically satisfied' callback counts in 满意率."
    )
    supervision_top_n: int = Field(10, ge=1, description="Streets/towns by volume that enter supervision.")
    supervision_leave_months: int = Field(
        2, ge=1, description="Consecutive months a supervised street must meet the criteria to leave."
    )
    supervision_leave_min_composite: float = Field(
        85, ge=0, description="去低: lowest composite score a street may have to leave supervision."
    )
    supervision_leave_volume_drop: float = Field(
        0.0, ge=0, description="减量: volume must fall by at least this share month on month to leave."
    )
    deadline_check_seconds: float = Field(5, gt=0, description="How often the deadline watcher looks.")
    pending_retry_seconds: float = Field(3, gt=0, description="How often events for unknown cases are retried.")
    hotspot_check_seconds: float = Field(5, gt=0, description="How often touched areas are checked for hot spots.")
    hotspot_baseline_days: int = Field(28, ge=7, description="Days before the window that make the baseline.")
    hotspot_min_count: int = Field(5, ge=1, description="Fewest requests in a window for a hot spot.")
    hotspot_ratio: float = Field(3.0, gt=1, description="A hot spot's count / baseline must reach this.")
    programme_path: Path | None = Field(
        None,
        # HOTLINE_PROGRAMME_PATH is the platform-wide name intake reads too; the old name still works.
        validation_alias=AliasChoices("HOTLINE_PROGRAMME_PATH", "HOTLINE_METRICS_PROGRAMME_PATH"),
        description="每月一题 programme YAML, read by metrics and by intake (updates); default: the one shipped.",
    )


def get_scoreboard_settings() -> ScoreboardSettings:
    """The scoreboard settings, read from the environment."""
    return ScoreboardSettings()
