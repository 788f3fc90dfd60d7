"""The outbox, on SQLite and PostgreSQL, in front of the HTTP client and a fake SI SIAO."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa

from sisiao_link.client import HttpSiSiaoClient
from sisiao_link.outbox import Outbox, OutboxError, OutboxState
from sisiao_link.port import NouvelleDemandeUrgence, NouvellePersonne
from tests.sisiao_link.fakes import MENAGE, FakeSiSiao, VirtualClock

LISTENER = "c.dupont@siao91.example"


async def no_sleep(_: float) -> None:
    return None


def demande(n: int, menage_id: str | None = None) -> NouvelleDemandeUrgence:
    if menage_id is not None:
        return NouvelleDemandeUrgence(
            menage_id=menage_id, departement="91", observations=f"appel {n}"
        )
    return NouvelleDemandeUrgence(
        nouvelle_personne=NouvellePersonne(nom=f"PERSONNE{n}", prenom="Test"),
        departement="91",
        observations=f"appel {n}",
    )


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


def make_outbox(
    engine: sa.Engine, http: httpx.AsyncClient, clock: VirtualClock, retry_attempts: int = 3
) -> Outbox:
    client = HttpSiSiaoClient(
        http,
        "https://sisiao.test/api",
        "ivr-115",
        "secret",
        clock,
        sleep=no_sleep,
        retry_attempts=retry_attempts,
    )
    return Outbox(engine, client, clock)


@pytest.fixture
def outbox(engine: sa.Engine, http: httpx.AsyncClient, clock: VirtualClock) -> Outbox:
    return make_outbox(engine, http, clock)


def observations(sisiao: FakeSiSiao) -> list[str]:
    return [c.body["observations"] for c in sisiao.creations]


async def test_given_sisiao_down_when_request_created_then_it_waits_in_outbox(
    outbox: Outbox, sisiao: FakeSiSiao
) -> None:
    sisiao.mode = "503"
    local_id = outbox.submit(demande(1), LISTENER, call_ref="call-42")
    assert sisiao.requests == []  # submit only writes; sending is the drainer's job
    status = outbox.status(local_id)
    assert status is not None
    assert (status.label, status.call_ref, status.demande) == (
        "en attente d'envoi",
        "call-42",
        demande(1),
    )

    report = await outbox.drain_once()

    assert report.unavailable
    assert report.error == "SI SIAO indisponible (HTTP 503)"
    after = outbox.status(local_id)
    assert after is not None
    assert (after.label, after.attempts, after.last_error) == (
        "en attente d'envoi",
        1,
        "SI SIAO indisponible (HTTP 503)",
    )
    assert outbox.pending_count() == 1


async def test_given_sisiao_up_when_drained_then_the_creator_sees_the_sisiao_identifier(
    outbox: Outbox, sisiao: FakeSiSiao, clock: VirtualClock
) -> None:
    local_id = outbox.submit(demande(1), LISTENER)
    report = await outbox.drain_once()
    assert (report.sent, report.rejected, report.unavailable) == (1, 0, False)
    status = outbox.status(local_id)
    assert status is not None
    sisiao_id = sisiao.creations[0].demande["id"]
    assert status.state is OutboxState.ENVOYEE
    assert status.label == f"envoyée (n° SI SIAO {sisiao_id})"
    assert status.sent_at == clock()
    assert sisiao.creations[0].user == LISTENER


async def test_when_several_requests_wait_then_they_are_sent_in_submission_order(
    outbox: Outbox, sisiao: FakeSiSiao
) -> None:
    for n in range(7):
        outbox.submit(demande(n), LISTENER)
    report = await outbox.drain_once()
    assert report.sent == 7
    assert observations(sisiao) == [f"appel {n}" for n in range(7)]


async def test_given_sisiao_fails_mid_queue_then_nothing_behind_it_goes_first(
    outbox: Outbox, sisiao: FakeSiSiao
) -> None:
    ids = [outbox.submit(demande(n), LISTENER) for n in range(4)]
    sisiao.fail_creations_after = 2

    report = await outbox.drain_once()

    assert (report.sent, report.unavailable) == (2, True)
    assert observations(sisiao) == ["appel 0", "appel 1"]
    states = [s.state for s in map(outbox.status, ids) if s is not None]
    assert states == [OutboxState.ENVOYEE] * 2 + [OutboxState.EN_ATTENTE] * 2

    sisiao.fail_creations_after = None
    assert (await outbox.drain_once()).sent == 2
    assert observations(sisiao) == [f"appel {n}" for n in range(4)]


async def test_given_sisiao_rejects_a_request_then_its_reason_is_shown_and_the_queue_moves_on(
    outbox: Outbox, sisiao: FakeSiSiao
) -> None:
    first = outbox.submit(demande(1, MENAGE["id"]), LISTENER)
    wrong = outbox.submit(demande(2, "2789999999"), LISTENER)
    third = outbox.submit(demande(3), LISTENER)

    report = await outbox.drain_once()

    assert (report.sent, report.rejected) == (2, 1)
    rejected = outbox.status(wrong)
    assert rejected is not None
    assert rejected.label == "rejetée : Ménage 2789999999 introuvable dans SI SIAO."
    assert rejected.demande == demande(2, "2789999999")  # kept for correction
    assert observations(sisiao) == ["appel 1", "appel 3"]
    assert [s.state for s in map(outbox.status, (first, third)) if s] == [OutboxState.ENVOYEE] * 2


async def test_given_sisiao_refuses_a_whole_batch_then_requests_go_one_by_one_in_order(
    outbox: Outbox, sisiao: FakeSiSiao
) -> None:
    ids = [outbox.submit(demande(1, MENAGE["id"]), LISTENER)]
    ids.append(outbox.submit(demande(2, "2789999999"), LISTENER))
    ids.append(outbox.submit(demande(3), LISTENER))
    sisiao.refuse_batches = True

    report = await outbox.drain_once()

    assert (report.sent, report.rejected) == (2, 1)
    assert observations(sisiao) == ["appel 1", "appel 3"]
    labels = [s.label for s in map(outbox.status, ids) if s is not None]
    assert labels[1] == "rejetée : Ménage 2789999999 introuvable dans SI SIAO."


async def test_given_more_requests_than_a_batch_then_several_calls_in_order(
    engine: sa.Engine, http: httpx.AsyncClient, clock: VirtualClock, sisiao: FakeSiSiao
) -> None:
    client = HttpSiSiaoClient(http, "https://sisiao.test/api", "ivr-115", "secret", clock)
    outbox = Outbox(engine, client, clock, send_batch=4)
    for n in range(10):
        outbox.submit(demande(n), LISTENER)
    assert (await outbox.drain_once()).sent == 10
    assert sisiao.batch_calls == 3
    assert observations(sisiao) == [f"appel {n}" for n in range(10)]


async def test_given_a_rejected_request_when_corrected_then_it_is_sent_under_a_new_key(
    outbox: Outbox, sisiao: FakeSiSiao
) -> None:
    local_id = outbox.submit(demande(1, "2789999999"), LISTENER)
    await outbox.drain_once()
    (refused_key,) = sisiao.attempted_keys

    corrected = outbox.correct_and_resubmit(local_id, demande(1, MENAGE["id"]), "b.martin@x.fr")
    assert (corrected.label, corrected.rejection_reason) == ("en attente d'envoi", None)

    assert (await outbox.drain_once()).sent == 1
    (creation,) = sisiao.creations
    assert creation.key != refused_key
    assert (creation.body["menage_id"], creation.user) == (MENAGE["id"], "b.martin@x.fr")
    status = outbox.status(local_id)
    assert status is not None
    assert status.label == f"envoyée (n° SI SIAO {creation.demande['id']})"


async def test_given_a_request_not_rejected_when_corrected_then_a_french_refusal(
    outbox: Outbox,
) -> None:
    local_id = outbox.submit(demande(1), LISTENER)
    with pytest.raises(OutboxError) as refused:
        outbox.correct_and_resubmit(local_id, demande(2), LISTENER)
    assert str(refused.value) == (
        "Seule une demande rejetée peut être corrigée (celle-ci est en attente d'envoi)."
    )
    with pytest.raises(OutboxError, match=r"^Demande inconnue-0 inconnue\.$"):
        outbox.correct_and_resubmit("inconnue-0", demande(2), LISTENER)


async def test_given_the_answer_was_lost_when_drained_again_then_sisiao_has_it_once(
    engine: sa.Engine, http: httpx.AsyncClient, clock: VirtualClock, sisiao: FakeSiSiao
) -> None:
    outbox = make_outbox(engine, http, clock, retry_attempts=1)
    local_id = outbox.submit(demande(1), LISTENER)
    sisiao.lose_next_creation_answers = 1

    assert (await outbox.drain_once()).unavailable
    assert (await outbox.drain_once()).sent == 1

    assert sisiao.creation_attempts == 2
    assert len(sisiao.creations) == 1
    status = outbox.status(local_id)
    assert status is not None
    assert status.sisiao_demande_id == sisiao.creations[0].demande["id"]


async def test_given_requests_queued_when_the_service_restarts_then_the_new_process_sends_them(
    engine: sa.Engine, http: httpx.AsyncClient, clock: VirtualClock, sisiao: FakeSiSiao
) -> None:
    sisiao.mode = "connect_error"
    before_restart = make_outbox(engine, http, clock)
    ids = [before_restart.submit(demande(n), LISTENER) for n in range(3)]
    assert (await before_restart.drain_once()).unavailable

    sisiao.mode = "up"
    after_restart = make_outbox(engine, http, clock)
    assert (await after_restart.drain_once()).sent == 3

    assert observations(sisiao) == ["appel 0", "appel 1", "appel 2"]
    labels = [s.label for s in map(after_restart.status, ids) if s is not None]
    assert labels == [f"envoyée (n° SI SIAO {c.demande['id']})" for c in sisiao.creations]


async def test_given_two_drains_at_once_then_each_request_is_sent_once(
    outbox: Outbox, sisiao: FakeSiSiao
) -> None:
    for n in range(5):
        outbox.submit(demande(n), LISTENER)
    reports = await asyncio.gather(outbox.drain_once(), outbox.drain_once())
    assert sorted(r.sent for r in reports) == [0, 5]
    assert sisiao.creation_attempts == 5


async def test_when_a_listener_lists_their_requests_then_newest_first_and_only_theirs(
    outbox: Outbox,
) -> None:
    mine = [outbox.submit(demande(n), LISTENER) for n in range(3)]
    outbox.submit(demande(9), "autre@siao75.example")
    assert [s.local_id for s in outbox.list_for_user(LISTENER)] == mine[::-1]


async def test_given_the_drainer_runs_when_a_request_is_submitted_from_a_thread_then_it_goes_out(
    engine: sa.Engine, http: httpx.AsyncClient, clock: VirtualClock, sisiao: FakeSiSiao
) -> None:
    client = HttpSiSiaoClient(http, "https://sisiao.test/api", "ivr-115", "secret", clock)
    outbox = Outbox(engine, client, clock, sleep=clock.sleep, idle_poll=3600)
    stop = asyncio.Event()
    runner = asyncio.create_task(outbox.run(stop))
    await clock.settle()

    # A sync console endpoint runs in a worker thread: the drainer must still wake up.
    local_id = await asyncio.to_thread(outbox.submit, demande(1), LISTENER)
    await clock.settle()

    status = outbox.status(local_id)
    assert status is not None
    assert status.state is OutboxState.ENVOYEE  # sent without waiting for the hourly poll
    stop.set()
    await asyncio.wait_for(runner, timeout=5)
