"""``hotline catalogue suggest`` on the real embedded database: cases are written through the product's
write path (the router's own routing and re-dispatch decisions, stored by the metrics repository as the
metrics service stores them), then read back through ``shared.cases.CaseReadModel`` and turned into
proposed catalogue rules with their evidence."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hotline.catalogue_cmd import suggest_from_store
from services.metrics.repository import MetricsRepository
from services.router.cases import redispatch_after_return
from services.router.lead import example_rows
from services.router.routing import route
from shared.cases import CaseReadModel
from shared.catalogue import load_catalogue
from shared.clock import DEFAULT_TIMEZONE
from shared.events import Assignment, CallRouted, CaseEvent, CaseEventKind, UnitKind
from shared.gazetteer import load_gazetteer
from shared.settings import MongoSettings, ServiceSettings
from tests import factories
from tests.helpers import REPO

pytestmark = pytest.mark.integration

CATALOGUE = load_catalogue()
GAZETTEER = load_gazetteer()
NOW = datetime.now(UTC).replace(microsecond=0)
MUNICIPAL = "城市建设和市政管理"


async def store_routed(repository: MetricsRepository, external_id: str, body: str, address: str,
                       category: str, subcategory: str) -> CallRouted:  # fmt: skip
    """A call routed by the router's own code with the shipped catalogue, stored as metrics stores it."""
    classified = factories.classified(
        factories.call(external_id, body=body, address=address, received_at=NOW - timedelta(days=2)),
        factories.classification(category, subcategory=subcategory),
    )
    assignment = route(classified.call, classified.classification, CATALOGUE, GAZETTEER, NOW)
    routed = CallRouted.from_classified(classified, assignment)
    await repository.apply_routed([routed])
    return routed


async def step(repository: MetricsRepository, routed: CallRouted, kind: str, actor: str, **fields: Any) -> None:
    event = factories.case_step(routed, kind, actor=actor, **fields)
    await repository.apply_case_events([event])


async def return_and_redispatch(repository: MetricsRepository, cases: CaseReadModel, routed: CallRouted,
                                note: str) -> Assignment:  # fmt: skip
    """The unit returns the case; the router decides from the stored case, as its agent does."""
    stored = await cases.get(str(routed.call_id))
    assert stored is not None
    await step(repository, routed, "returned", "unit", note=note, actor_queue=stored.lead_queue)
    stored = await cases.get(str(routed.call_id))
    assert stored is not None and stored.status == "returned"
    assignment = redispatch_after_return(stored, CATALOGUE, GAZETTEER, NOW, note=note, timezone=DEFAULT_TIMEZONE)
    await repository.apply_case_events(
        [CaseEvent(call_id=routed.call_id, kind=CaseEventKind.dispatched, actor="router", assignment=assignment)]
    )
    return assignment


async def seed(mongo_db: Any) -> dict[str, list[str]]:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    cases = CaseReadModel(mongo_db)
    ids: dict[str, list[str]] = {"transport": [], "postal": [], "pending": [], "few": []}
    # 1. Broken guardrails: the catalogue sends them to the street; the streets return them naming the
    #    transport commission, which accepts them (returns that listen sent them there).
    for i, address in enumerate(["朝阳区望京西园三区", "海淀区中关村街道", "丰台区方庄芳群园", "西城区月坛街道三里河"]):
        routed = await store_routed(repository, f"rail-{i}-{uuid.uuid4().hex[:6]}", "小区门口的护栏被撞歪了没人修",
                                    address, "城乡建设", MUNICIPAL)  # fmt: skip
        assert routed.assignment.unit_kind is UnitKind.street
        assignment = await return_and_redispatch(repository, cases, routed, "这是交通委的事，不归街道")
        assert assignment.queue_id == "department:市交通委员会"
        await step(repository, routed, "accepted", "jiaotongwei", actor_queue=assignment.queue_id)
        ids["transport"].append(str(routed.call_id))
    # 2. Self-service machines that take money: the catalogue sends them to commerce, which returns them
    #    without naming anyone; an operator dispatches them by hand to market regulation (人工派单), which accepts.
    for i in range(3):
        routed = await store_routed(repository, f"parcel-{i}-{uuid.uuid4().hex[:6]}", "商场门口的自助洗车机扣费不出水",
                                    "", "商贸旅游", "商业贸易")  # fmt: skip
        today = routed.assignment.queue_id
        await return_and_redispatch(repository, cases, routed, "不属于本单位职责")
        manual = Assignment(queue_id="department:市市场监督管理局", unit_kind=UnitKind.department,
                            unit_name="市市场监督管理局", catalogue_version=CATALOGUE.version, reason="人工派单")  # fmt: skip
        await step(repository, routed, "dispatched", "duty-supervisor", assignment=manual)
        if i < 2:
            await step(repository, routed, "accepted", "shichangjianguan", actor_queue=manual.queue_id)
        ids["postal"].append(str(routed.call_id))
        assert today != manual.queue_id
    # 3. Returned, re-dispatched, not yet accepted anywhere: nothing learned yet.
    routed = await store_routed(repository, f"pending-{uuid.uuid4().hex[:6]}", "小区门口的护栏被撞歪了没人修",
                                "朝阳区望京西园三区", "城乡建设", "住房保障与房地产")  # fmt: skip
    await return_and_redispatch(repository, cases, routed, "这是交通委的事")
    ids["pending"].append(str(routed.call_id))
    # 4. Two of a problem: fewer than the proposal needs.
    for i in range(2):
        routed = await store_routed(repository, f"few-{i}-{uuid.uuid4().hex[:6]}", "路灯不亮", "朝阳区望京西园三区",
                                    "城乡建设", "工程质量")  # fmt: skip
        assignment = await return_and_redispatch(repository, cases, routed, "应由城管委处理")
        await step(repository, routed, "accepted", "chengguan", actor_queue=assignment.queue_id)
        ids["few"].append(str(routed.call_id))
    return ids


async def test_suggest_proposes_rules_with_evidence_from_returns_and_manual_dispatches(
    mongo_db: Any, settings: ServiceSettings, tmp_path: Path
) -> None:
    ids = await seed(mongo_db)
    examples = tmp_path / "lead.jsonl"

    result = await suggest_from_store(
        MongoSettings(uri=settings.mongodb.uri),
        mongo_db.name,
        CATALOGUE,
        min_cases=3,
        timezone=DEFAULT_TIMEZONE,
        lead_examples=examples,
    )

    assert result["cases_read"] == 4 + 3 + 1 + 2
    assert result["lessons"] == 4 + 3 + 2  # the pending one taught nothing yet
    transport, postal = result["suggestions"]
    assert transport["rule"]["match"] == {"categories": ["城乡建设"], "subcategories": [MUNICIPAL]}
    assert transport["rule"]["assign"]["lead"] == "department:市交通委员会"
    assert transport["before"] == "urban-construction-street" == transport["today"]["rule"]
    evidence = transport["evidence"]
    assert evidence["cases"] == 4 and evidence["returned"] == 4 and evidence["manual_dispatches"] == 0
    assert evidence["named_in_returns"] == {"department:市交通委员会": 4}
    assert evidence["settled_at"] == {"department:市交通委员会": 4}
    assert sorted(evidence["example_call_ids"]) == sorted(ids["transport"])
    assert evidence["example_reasons"] == ["这是交通委的事，不归街道"]

    assert postal["rule"]["assign"]["lead"] == "department:市市场监督管理局"
    assert postal["rule"]["match"] == {"categories": ["商贸旅游"], "subcategories": ["商业贸易"]}
    assert postal["evidence"]["manual_dispatches"] == 3 and postal["evidence"]["cases"] == 3
    assert set(postal["evidence"]["example_call_ids"]) == set(ids["postal"])
    assert "learned from 3" in postal["rule"]["description"]["en"]
    for id_ in ids["pending"] + ids["few"]:
        assert all(id_ not in s["evidence"]["example_call_ids"] for s in result["suggestions"])
    assert "proposed rule, before urban-construction-street" in result["report"]
    # every settled case, led where it settled, as an example for the learned lead scorer
    lines = [json.loads(line) for line in examples.read_text(encoding="utf-8").splitlines()]
    assert example_rows(examples) == [(line["text"], tuple(line["accept"])) for line in lines]
    taught = {line["id"]: (line["text"], tuple(line["accept"])) for line in lines}
    assert set(taught) == set(ids["transport"] + ids["postal"] + ids["few"])
    assert {taught[i] for i in ids["transport"]} == {("\n小区门口的护栏被撞歪了没人修", ("department:市交通委员会",))}
    assert {taught[i][1][0] for i in ids["postal"]} == {"department:市市场监督管理局"}


async def test_the_command_prints_json_and_a_readable_report(
    mongo_db: Any, settings: ServiceSettings, tmp_path: Path
) -> None:
    await seed(mongo_db)
    env = {"PATH": "/usr/bin:/bin", "MONGODB_URI": settings.mongodb.uri, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "hotline.cli", "catalogue", "suggest", "--database", mongo_db.name]
    examples = tmp_path / "lead.jsonl"
    as_json = subprocess.run(
        [*command, "--json", "--lead-examples", str(examples)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert as_json.returncode == 0, as_json.stderr
    assert f"wrote 9 lead examples to {examples}" in as_json.stderr
    assert len(example_rows(examples)) == 9
    document = json.loads(as_json.stdout)
    assert [s["rule"]["assign"]["lead"] for s in document["suggestions"]] == [
        "department:市交通委员会",
        "department:市市场监督管理局",
    ]
    readable = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert readable.returncode == 0, readable.stderr
    assert "4 cases of 城乡建设/城市建设和市政管理 settled at department:市交通委员会" in readable.stdout
    assert "- id: learned-1" in readable.stdout
