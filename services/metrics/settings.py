"""Settings of the metrics processes — the worker and the read API (prefix ``HOTLINE_METRICS_``).

One class for both: the worker's batching, the read API's address, the scoreboard's weights and
supervision criteria, the deadline watcher's, pending-event retry's and hot-spot check's periods. The
platform-wide fields (``HOTLINE_HOME``, ``HOTLINE_TIMEZONE``, ``HOTLINE_PROGRAMME_PATH`` for the 每月一题
programme, …) and the nested ``kafka`` / ``mongodb`` groups come from ``ServiceSettings``. Built once, in
``services.metrics.__main__`` / ``services.metrics.api.__main__`` (or ``hotline metrics``), and passed down.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import WorkerSettings


class MetricsSettings(WorkerSettings):
    """The metrics worker and read API: batching, address, scoreboard weights, supervision criteria, timers."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_METRICS_")

    host: str = Field("127.0.0.1", description="Bind address of the read API and queue page.")
    port: int = Field(8001, description="Bind port of the read API and queue page.")
    api_keys_file: Path = Field(
        Path(".hotline/api-keys.json"),
        description="The API-key file the read API checks X-API-Key against (the same file as "
        "HOTLINE_INTAKE_API_KEYS_FILE): keys with cases:read see their units, read:all or supervisor everything.",
    )
    batch_size: int = Field(500, ge=1, description="Events pre-aggregated in memory per database write.")
    batch_window_seconds: float = Field(0.05, gt=0, description="Longest wait to fill a batch.")

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
