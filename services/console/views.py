"""Pure presentation helpers: durations, deadline countdowns and an inline SVG bar chart."""

from __future__ import annotations

import html
import math
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shared.clock import DEFAULT_TIMEZONE


def duration(seconds: float, language: str) -> str:
    """A short human duration: 45 s, 12 min, 3.5 h, 2.0 d (秒/分钟/小时/天 in Chinese)."""
    seconds = abs(seconds)
    zh = language == "zh"
    if seconds < 60:
        return f"{seconds:.0f}{' 秒' if zh else ' s'}"
    if seconds < 3600:
        return f"{seconds / 60:.0f}{' 分钟' if zh else ' min'}"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}{' 小时' if zh else ' h'}"
    return f"{seconds / 86400:.1f}{' 天' if zh else ' d'}"


def parse_time(value: Any) -> datetime | None:
    """A datetime from an ISO string (or datetime), UTC when naive; None for None."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def seconds_until(due: Any, now: datetime) -> float | None:
    """Seconds from ``now`` to ``due`` (negative when overdue); None without a due time."""
    moment = parse_time(due)
    return None if moment is None else (moment - now).total_seconds()


def category_path(classification: Mapping[str, Any] | None) -> str:
    """Level 1 › level 2 › level 3 of the taxonomy, as far as known."""
    if not classification:
        return "—"
    parts = [classification.get(k) for k in ("category", "subcategory", "item")]
    return " › ".join(str(p) for p in parts if p) or "—"


def local_time(value: Any, timezone: str = DEFAULT_TIMEZONE) -> str:
    """YYYY-MM-DD HH:MM in the city's time zone."""
    from zoneinfo import ZoneInfo

    moment = parse_time(value)
    return "—" if moment is None else moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


MAX_LABEL_WIDTH = 420
"""The widest label column of a chart (SVG units, font size 12)."""


def text_width(text: str, font_size: float = 12) -> float:
    """An estimate of ``text``'s width in SVG units: a wide (CJK) character is one em, others about 0.6 em."""
    return sum(font_size if unicodedata.east_asian_width(ch) in "WF" else 0.6 * font_size for ch in text)


def fitted(text: str, width: float) -> str:
    """``text`` shortened with "…" to fit ``width`` (by ``text_width``), or whole when it fits."""
    if text_width(text) <= width:
        return text
    while text and text_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def bar_chart_svg(
    rows: Sequence[tuple[str, int, int]], *, legend: tuple[str, str], width: int = 760, bar_height: int = 12
) -> str:
    """A horizontal grouped bar chart (previous vs this month per label) as inline SVG, escaped."""
    if not rows:
        return ""
    # The label column is as wide as the longest label (CJK characters count double), within bounds; a label
    # wider still is shortened with "…" (its full text stays in the bar's tooltip): nothing is clipped.
    label_width = min(MAX_LABEL_WIDTH, max(100, math.ceil(max(text_width(label) for label, _, _ in rows)) + 12))
    width = max(width, label_width + 420)
    gap, right = 10, 60
    top = 28
    row_height = 2 * bar_height + gap
    height = top + row_height * len(rows) + 4
    largest = max(max(previous, current) for _, previous, current in rows) or 1
    scale = (width - label_width - right) / largest
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="12">',
        f'<rect x="{label_width}" y="6" width="12" height="12" class="bar-prev"/>'
        f'<text x="{label_width + 16}" y="16">{html.escape(legend[0])}</text>',
        f'<rect x="{label_width + 260}" y="6" width="12" height="12" class="bar-cur"/>'
        f'<text x="{label_width + 276}" y="16">{html.escape(legend[1])}</text>',
    ]
    for index, (label, previous, current) in enumerate(rows):
        y = top + index * row_height
        change = "" if previous == 0 else f" {(current - previous) / previous:+.0%}"
        parts.append(
            f'<text x="{label_width - 6}" y="{y + bar_height + 4}" text-anchor="end">'
            f"{html.escape(fitted(label, label_width - 12))}<title>{html.escape(label)}</title></text>"
            f'<rect x="{label_width}" y="{y}" width="{previous * scale:.1f}" height="{bar_height}" class="bar-prev">'
            f"<title>{html.escape(label)}: {previous}</title></rect>"
            f'<rect x="{label_width}" y="{y + bar_height}" width="{current * scale:.1f}" height="{bar_height}" '
            f'class="bar-cur"><title>{html.escape(label)}: {current}</title></rect>'
            f'<text x="{label_width + max(previous, current) * scale + 4:.1f}" y="{y + bar_height + 4}">'
            f"{current}{html.escape(change)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
