"""Presentation helpers, signed sessions and languages of the console."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from services.console.district_map import PALETTE, map_svg
from services.console.i18n import pick_language, translator
from services.console.sessions import sign, unsign
from services.console.views import bar_chart_svg, category_path, duration, text_width
from shared.cases import is_overdue
from shared.clock import previous_month
from shared.masking import mask_contacts

NOW = datetime(2026, 4, 10, 8, 0, tzinfo=UTC)


def test_phone_numbers_and_emails_in_the_citizens_words_are_masked() -> None:
    text = "我的电话13812345678，座机 010-6512 3456，邮箱 zhang.san@example.com，门牌 3 号"
    masked = mask_contacts(text)
    assert "13812345678" not in masked and "138****5678" in masked
    assert "6512 3456" not in masked and "010****3456" in masked
    assert "zhang.san" not in masked and "z***@example.com" in masked
    assert "门牌 3 号" in masked


def test_durations_read_naturally_in_both_languages() -> None:
    assert duration(42, "en") == "42 s"
    assert duration(3 * 3600, "zh") == "3.0 小时"
    assert duration(-2 * 86400, "en") == "2.0 d"


def test_a_case_past_its_resolution_due_time_is_overdue() -> None:
    due = {"assignment": {"resolution_due_at": (NOW - timedelta(minutes=1)).isoformat()}, "status": "accepted"}
    assert is_overdue(due, NOW)
    assert not is_overdue({"assignment": {"resolution_due_at": (NOW + timedelta(days=1)).isoformat()}}, NOW)


def test_a_missed_response_deadline_no_longer_counts_once_the_citizen_was_contacted() -> None:
    late = {"response_due_at": (NOW - timedelta(hours=1)).isoformat()}
    assert is_overdue({"assignment": late, "status": "accepted"}, NOW)
    assert not is_overdue({"assignment": late, "status": "responded"}, NOW)


def test_the_category_path_joins_the_known_levels() -> None:
    assert (
        category_path({"category": "劳动和社会保障", "subcategory": "劳动保障", "item": None})
        == "劳动和社会保障 › 劳动保障"
    )
    assert category_path(None) == "—"


def test_the_month_on_month_chart_is_escaped_svg_with_one_pair_of_bars_per_problem() -> None:
    svg = bar_chart_svg([("<script>", 10, 5), ("城乡建设", 0, 7)], legend=("上月", "本月"))
    assert svg.startswith("<svg") and "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count('class="bar-prev"') == 3 and svg.count('class="bar-cur"') == 3  # legend + 2 rows
    assert "-50%" in svg
    assert bar_chart_svg([], legend=("a", "b")) == ""


def test_previous_month_wraps_the_year() -> None:
    assert previous_month("2026-01") == "2025-12"
    assert previous_month("2026-10") == "2026-09"


def test_a_session_cookie_is_refused_when_tampered_with_or_expired() -> None:
    token = sign({"user": "li"}, "secret", max_age_seconds=60, now=1000)
    assert unsign(token, "secret", now=1030) == {"user": "li", "exp": 1060}
    assert unsign(token, "secret", now=1061) is None
    assert unsign(token, "other-secret", now=1030) is None
    data, mac = token.rsplit(".", 1)
    assert unsign(data[:-2] + "xx." + mac, "secret", now=1030) is None
    assert unsign(None, "secret") is None


def test_the_language_comes_from_the_query_then_the_cookie_then_defaults_to_chinese() -> None:
    assert pick_language("en", "zh") == "en"
    assert pick_language(None, "en") == "en"
    assert pick_language("fr", None) == "zh"
    assert translator("en")("queues") == "Queues" and translator("zh")("queues") == "队列"
    assert translator("en")("more_cases", shown=200, total=1000) == "Showing the first 200 of 1000"


def test_a_step_just_taken_is_pending_until_the_history_shows_it() -> None:
    from services.console.routes.cases import step_pending

    assert step_pending("accepted", [], ["accepted"])
    assert not step_pending("accepted", [{"kind": "accepted"}], [])
    assert step_pending("accepted", None, ["accepted", "returned"])  # no history: still offered, not applied
    assert not step_pending("accepted", None, ["responded"])
    assert not step_pending(None, [], [])


def test_chart_labels_get_the_room_they_need_and_are_never_clipped() -> None:
    """Issue 14: long English labels were clipped at the chart's left edge."""
    long_en = "Wage arrears of migrant workers on building sites"
    svg = bar_chart_svg([(long_en, 3, 5), ("欠薪", 1, 2)], legend=("prev", "this"))
    found = re.search(r'<text x="([0-9.]+)" y="[0-9.]+" text-anchor="end">', svg)
    assert found is not None
    label_column = float(found.group(1))
    assert text_width(long_en) <= label_column, "the label column fits the longest label"
    assert f">{long_en}<title>" in svg
    huge = "x" * 200
    svg = bar_chart_svg([(huge, 1, 1)], legend=("prev", "this"))
    assert "…<title>" + huge in svg, "a label too long for any column is shortened, its full text kept"


def test_the_district_map_draws_the_16_districts_coloured_by_their_figure_with_hot_spots() -> None:
    """Issue 14: a map of Beijing's districts from a registry package's boundaries, no tiles."""
    svg = map_svg({"大兴区": 30, "朝阳区": 3, "延庆区": None}, [("大兴区", "wage-arrears", 9)], label="requests")
    districts = re.findall(r'<path d="[^"]+" fill="(#[0-9a-f]+)"[^>]*data-district="([^"]+)"', svg)
    assert len(districts) == 16
    fills = {name: fill for fill, name in districts}
    assert fills["大兴区"] == PALETTE[-1] and fills["朝阳区"] == PALETTE[0] and fills["延庆区"] == "#eceff3"
    assert svg.count('class="hot-spot"') == 1 and "wage-arrears: 9" in svg
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", ""), "nothing is fetched"
