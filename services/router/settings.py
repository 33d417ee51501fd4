"""The router process's one settings class (prefix ``HOTLINE_ROUTER_``).

Read once, by the composition root (``services/router/app.py`` via ``__main__``), and passed down.
The platform-wide ``HOTLINE_*`` fields (among them ``HOTLINE_CATALOGUE_PATH`` and ``HOTLINE_TIMEZONE``)
and the nested ``kafka`` / ``mongodb`` groups come from ``shared.settings.ServiceSettings``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import WorkerSettings


class RouterSettings(WorkerSettings):
    """How the router batches, how often a returned case is re-dispatched, how duplicates are found, how the
    catalogue is watched."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_ROUTER_")

    batch_size: int = Field(500, ge=1, description="Events routed (or case events followed) together by an agent.")
    batch_window_seconds: float = Field(0.05, gt=0, description="Longest wait to fill a batch.")
    max_returns: int = Field(
        2, ge=0, description="Automatic re-dispatches after returns (退单); the next return goes to manual dispatch."
    )
    duplicate_window_hours: float = Field(
        72, ge=0, description="A new call is linked to an open case received at most this long before it (0: off)."
    )
    catalogue_check_seconds: float = Field(
        3, gt=0, description="How often the dispatch catalogue file's mtime is checked for a reload."
    )
    learned_urgency: bool = Field(
        True,
        description="Besides the catalogue's life-or-safety rules, mark urgent a call the learned urgency scorer "
        "(services/router/urgency.py) rates at or above learned_urgency_threshold.",
    )
    learned_urgency_threshold: float = Field(
        0.65, gt=0, le=1, description="Probability from which the learned urgency scorer marks a call urgent."
    )
    learned_urgency_calm_below: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="Probability under which the learned urgency scorer overrules the life-or-safety rules' words: "
        "the call is routed by the other rules, at normal priority (0: the rules' words always make a call urgent).",
    )
    learned_lead: bool = Field(
        True,
        description="Let the learned lead scorer (services/router/lead.py) lead a call with another unit than the "
        "catalogue rule's when it is sure of it (see the two settings below); false: the rules alone choose.",
    )
    learned_lead_min_probability: float = Field(
        0.4, gt=0, le=1, description="The learned lead scorer's unit must have at least this probability..."
    )
    learned_lead_margin: float = Field(
        0.3, ge=0, le=1, description="...and exceed the probability of the rule's unit by at least this much."
    )
    learned_lead_extra_examples: Path | None = Field(
        None,
        description="A JSON-lines file of more lead examples, learned with the shipped ones: what settled returns "
        "and manual dispatches taught (hotline catalogue suggest --lead-examples FILE).",
    )
    case_wait_seconds: float = Field(
        10, gt=0, description="How long a case event waits for its case to be stored before it is dead-lettered."
    )
