"""An hour-long SI SIAO outage replayed on a virtual clock: nothing lost, nothing sent twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa

from sisiao_link.client import HttpSiSiaoClient
from sisiao_link.outbox import Outbox, OutboxState
from sisiao_link.port import NouvelleDemandeUrgence, NouvellePersonne
from tests.sisiao_link.fakes import FakeSiSiao, VirtualClock


@dataclass
class Service:
    """One run of the service: its client, its outbox, its drainer task."""

    outbox: Outbox
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def shut_down(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, timeout=5)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def sisiao(clock: VirtualClock) -> FakeSiSiao:
    return FakeSiSiao(clock=clock)


@pytest.fixture
async def http(sisiao: FakeSiSiao) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=sisiao.transport()) as client:
        yield client


async def start_service(engine: sa.Engine, http: httpx.AsyncClient, clock: VirtualClock) -> Service:
    client = HttpSiSiaoClient(
        http, "https://sisiao.test/api", "ivr-115", "secret", clock, sleep=clock.sleep
    )
    outbox = Outbox(engine, client, clock, sleep=clock.sleep, backoff_max=60, idle_poll=5)
    stop = asyncio.Event()
    service = Service(outbox, stop, asyncio.create_task(outbox.run(stop)))
    await clock.settle()
    return service


def call(minute: int) -> NouvelleDemandeUrgence:
    return NouvelleDemandeUrgence(
        nouvelle_personne=NouvellePersonne(nom=f"APPELANT{minute:02d}", prenom="Test"),
        departement="91",
        observations=f"appel de la minute {minute}",
    )


async def test_given_an_hour_long_outage_with_a_restart_then_every_request_is_sent_once_in_order(
    engine: sa.Engine, http: httpx.AsyncClient, clock: VirtualClock, sisiao: FakeSiSiao
) -> None:
    service = await start_service(engine, http, clock)
    sisiao.mode = "connect_error"
    ids: list[str] = []

    for minute in range(60):
        if minute == 25:  # the service is redeployed in the middle of the outage
            await service.shut_down()
            service = await start_service(engine, http, clock)
        ids.append(service.outbox.submit(call(minute), f"ecoutant{minute % 3}@siao91.example"))
        await clock.settle()
        await clock.advance(60)

    assert sisiao.creations == []
    assert service.outbox.pending_count() == 60
    # No storm of retries: each run of the service makes five failing calls (three attempts
    # each) before its circuit breaker opens, then one trial call a minute (backoff at 60 s).
    per_minute = Counter(int((t - clock()).total_seconds() // 60) for t in sisiao.request_times)
    assert sorted(per_minute.values()) == [3] * 58 + [15] * 2

    # SI SIAO comes back; the answer to the first call is lost on the way back.
    sisiao.mode = "up"
    sisiao.lose_next_creation_answers = 1
    for _ in range(5):
        await clock.advance(60)
        await clock.settle()
        if service.outbox.pending_count() == 0:
            break
    await service.shut_down()

    statuses = [service.outbox.status(local_id) for local_id in ids]
    assert all(s is not None and s.state is OutboxState.ENVOYEE for s in statuses)
    assert [c.body["observations"] for c in sisiao.creations] == [
        f"appel de la minute {minute}" for minute in range(60)
    ]
    assert len({c.key for c in sisiao.creations}) == 60
    # The first batch (50 requests) was processed but its answer lost: the client sent it again
    # with the same keys and SI SIAO answered with the requests it had already created.
    attempts = Counter(sisiao.attempted_keys)
    assert sorted(Counter(attempts.values()).items()) == [(1, 10), (2, 50)]
    assert [s.sisiao_demande_id for s in statuses if s is not None] == [
        c.demande["id"] for c in sisiao.creations
    ]
    assert [c.user for c in sisiao.creations][:3] == [
        "ecoutant0@siao91.example",
        "ecoutant1@siao91.example",
        "ecoutant2@siao91.example",
    ]
