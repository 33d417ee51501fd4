"""StoredCallsLookup: concurrent requests' resubmission lookups gathered into shared rounds."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import pytest

from services.intake.case_store import StoredCallsLookup
from shared.cases import IDS_PER_QUERY, CaseReadModel, StoredCall


class FakeCases:
    """A read model whose lookups wait until released, recording what each was asked."""

    def __init__(self, stored: Sequence[str] = ()) -> None:
        self.stored = {call_id: StoredCall(source_system="s", external_id=call_id, body="b") for call_id in stored}
        self.asked: list[list[str]] = []
        self.release = asyncio.Event()
        self.fail_with: Exception | None = None

    async def stored_calls(self, call_ids: Sequence[str]) -> dict[str, StoredCall]:
        self.asked.append(list(call_ids))
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return {call_id: self.stored[call_id] for call_id in call_ids if call_id in self.stored}


def lookup_of(fake: FakeCases, **options: Any) -> StoredCallsLookup:
    return StoredCallsLookup(cast(CaseReadModel, fake), **options)


async def test_requests_asking_while_a_lookup_is_under_way_share_the_next_one() -> None:
    fake = FakeCases(stored=["a-3", "a-7"])
    lookup = lookup_of(fake)
    first = asyncio.create_task(lookup.stored_calls(["a-0"]))
    await asyncio.sleep(0)  # the first round is under way, waiting for the store
    rest = [asyncio.create_task(lookup.stored_calls([f"a-{n}"])) for n in range(1, 50)]
    await asyncio.sleep(0)
    fake.release.set()
    answers = await asyncio.gather(first, *rest)

    later = [f"a-{n}" for n in range(1, 50)]
    assert lookup.rounds == 2
    assert fake.asked == [["a-0"], later[:IDS_PER_QUERY], later[IDS_PER_QUERY:]]  # a round's slices, asked at once
    assert [sorted(answer) for answer in answers] == [[f"a-{n}"] if n in (3, 7) else [] for n in range(50)]
    assert answers[3]["a-3"].external_id == "a-3"


async def test_a_round_takes_at_most_max_ids_but_never_splits_a_request() -> None:
    fake = FakeCases()
    fake.release.set()
    lookup = lookup_of(fake, max_ids=4)
    asks = [["b-1", "b-2", "b-3"], ["b-4", "b-5"], ["b-6"], ["b-7", "b-8", "b-9", "b-10", "b-11"]]
    await asyncio.gather(*(lookup.stored_calls(ids) for ids in asks))

    assert fake.asked == [["b-1", "b-2", "b-3"], ["b-4", "b-5", "b-6"], ["b-7", "b-8", "b-9", "b-10", "b-11"]]


async def test_a_failed_lookup_fails_its_round_and_those_waiting_then_the_next_request_asks_again() -> None:
    fake = FakeCases(stored=["c-2"])
    fake.fail_with = ConnectionError("database not reachable")
    lookup = lookup_of(fake)
    first = asyncio.create_task(lookup.stored_calls(["c-0"]))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(lookup.stored_calls(["c-1"]))
    await asyncio.sleep(0)
    fake.release.set()
    for task in (first, waiting):
        with pytest.raises(ConnectionError, match="database not reachable"):
            await task
    assert fake.asked == [["c-0"]]  # the waiting request was not sent to a store that had just failed

    fake.fail_with = None
    assert list(await lookup.stored_calls(["c-2"])) == ["c-2"]


async def test_a_request_cancelled_while_waiting_is_left_out_and_the_others_are_answered() -> None:
    fake = FakeCases(stored=["d-2"])
    lookup = lookup_of(fake)
    first = asyncio.create_task(lookup.stored_calls(["d-0"]))
    await asyncio.sleep(0)
    gone = asyncio.create_task(lookup.stored_calls(["d-1"]))
    kept = asyncio.create_task(lookup.stored_calls(["d-2"]))
    await asyncio.sleep(0)
    gone.cancel()
    fake.release.set()

    assert await first == {}
    assert list(await kept) == ["d-2"]
    assert gone.cancelled()
    assert fake.asked == [["d-0"], ["d-2"]]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the stranded round, collected
def test_a_round_stranded_on_a_closed_loop_does_not_hold_up_the_next_loop() -> None:
    fake = FakeCases(stored=["f-1"])
    lookup = lookup_of(fake)

    async def strand() -> None:
        asyncio.get_running_loop().create_task(lookup.stored_calls(["f-0"]))
        for _ in range(3):  # the round goes out and waits for the store, which never answers on this loop
            await asyncio.sleep(0)

    first = asyncio.new_event_loop()
    first.run_until_complete(strand())
    first.close()  # closed with the round still under way (as a test client's loop may be)

    async def ask_again() -> dict[str, StoredCall]:
        fake.release = asyncio.Event()
        fake.release.set()
        return await asyncio.wait_for(lookup.stored_calls(["f-1"]), 10)  # a stall fails, not hangs

    assert list(asyncio.run(ask_again())) == ["f-1"]
    assert fake.asked == [["f-0"], ["f-1"]]
