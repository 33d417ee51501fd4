"""Settings of the router, read from the environment (prefix ``HOTLINE_ROUTER_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RouterSettings(BaseSettings):
    """How often a returned case is re-dispatched, how duplicates are found, how the catalogue is watched."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_ROUTER_", extra="ignore")

    max_returns: int = Field(
        2, ge=0, description="Automatic re-dispatches after returns (退单); the next return goes to manual dispatch."
    )
    duplicate_window_hours: float = Field(
        72, ge=0, description="A new call is linked to an open case received at most this long before it (0: off)."
    )
    catalogue_check_seconds: float = Field(
        3, gt=0, description="How often the dispatch catalogue file's mtime is checked for a reload."
    )
    case_wait_seconds: float = Field(
        10, gt=0, description="How long a case event waits for its case to be stored before it is dead-lettered."
    )
