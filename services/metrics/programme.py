"""How far the 每月一题 programme has come: the file's problems with the statuses metrics has stored.

The programme file's format and checks are shared (``shared/programme.py``); this is metrics' read of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from copy import deepcopy
from typing import Any

from shared.programme import ITEM_KINDS


def with_updates(programme: Mapping[str, Any], updates: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The problems with each item's latest stored status (and its version) applied over the file's."""
    latest = {(u["problem_id"], u["kind"], u["item_id"]): u for u in updates}
    problems = deepcopy(list(programme["problems"]))
    for problem in problems:
        for kind in ITEM_KINDS:
            for item in problem[kind]:
                item.setdefault("status", "planned")
                item["version"] = 0
                update = latest.get((problem["id"], kind, item["id"]))
                if update is not None:
                    item["status"], item["version"] = update["status"], update["version"]
                    item["updated_at"] = update.get("updated_at")
    return problems
