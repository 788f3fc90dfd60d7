"""Console lookups: never blocking, always ending (found, not found, or SI SIAO unavailable)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from sisiao_link.client import HttpSiSiaoClient
from sisiao_link.lookup import LookupService, LookupState, UnknownLookupError
from sisiao_link.port import Composition
from tests.sisiao_link.fakes import FakeSiSiao, VirtualClock


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def sisiao(clock: VirtualClock) -> FakeSiSiao:
    return FakeSiSiao(clock=clock)


@pytest.fixture
async def client(sisiao: FakeSiSiao, clock: VirtualClock) -> AsyncIterator[HttpSiSiaoClient]:
    async def no_sleep(_: float) -> None:
        return None

    async with httpx.AsyncClient(transport=sisiao.transport()) as http:
        yield HttpSiSiaoClient(
            http, "https://sisiao.test/api", "ivr-115", "secret", clock, sleep=no_sleep
        )


@pytest.fixture
async def lookups(client: HttpSiSiaoClient, clock: VirtualClock) -> AsyncIterator[LookupService]:
    service = LookupService(client, clock, timeout=4.0)
    yield service
    await service.aclose()


async def test_given_a_known_number_when_the_call_rings_then_pending_then_the_household(
    lookups: LookupService,
) -> None:
    lookup_id = lookups.start_search_by_phone("06 39 98 01 01")
    pending = lookups.result(lookup_id)
    assert (pending.state, pending.message) == (LookupState.PENDING, "Recherche SI SIAO en cours…")

    found = await lookups.wait(lookup_id)

    assert (found.state, found.message) == (LookupState.FOUND, "1 ménage trouvé dans SI SIAO")
    (menage,) = found.menages
    assert menage.composition is Composition.FEMME_SEULE_AVEC_ENFANTS
    assert [p.prenom for p in found.personnes] == ["Sophie"]


async def test_given_an_unknown_number_when_searched_then_not_found_in_french(
    lookups: LookupService,
) -> None:
    result = await lookups.wait(lookups.start_search_by_phone("06 39 98 09 99"))
    assert (result.state, result.message) == (
        LookupState.NOT_FOUND,
        "Aucune personne connue de SI SIAO pour ce numéro",
    )


async def test_given_an_identity_search_with_no_match_then_not_found(
    lookups: LookupService,
) -> None:
    lookup_id = lookups.start_search_by_identity("Martin", "Sophie", date(1988, 4, 12))
    result = await lookups.wait(lookup_id)
    assert result.message == "Aucune personne connue de SI SIAO sous cette identité"


async def test_given_a_household_id_when_read_then_its_members(lookups: LookupService) -> None:
    found = await lookups.wait(lookups.start_get_menage("2780000001"))
    assert [p.prenom for p in found.personnes] == ["Sophie", "Léo"]
    missing = await lookups.wait(lookups.start_get_menage("2789999999"))
    assert (missing.state, missing.message) == (
        LookupState.NOT_FOUND,
        "Ménage 2789999999 introuvable dans SI SIAO",
    )


async def test_given_sisiao_down_when_searched_then_sisiao_unavailable(
    lookups: LookupService, sisiao: FakeSiSiao
) -> None:
    sisiao.mode = "503"
    result = await lookups.wait(lookups.start_search_by_phone("06 39 98 01 01"))
    assert (result.state, result.message, result.reason) == (
        LookupState.UNAVAILABLE,
        "SI SIAO indisponible",
        "SI SIAO indisponible (HTTP 503)",
    )


async def test_given_sisiao_slow_when_the_deadline_passes_then_unavailable_without_waiting(
    lookups: LookupService, sisiao: FakeSiSiao, clock: VirtualClock
) -> None:
    sisiao.mode = "slow"
    started = time.perf_counter()
    lookup_id = lookups.start_search_by_phone("06 39 98 01 01")
    assert lookups.result(lookup_id).state is LookupState.PENDING
    clock.advance_now(4)

    result = lookups.result(lookup_id)

    assert (result.message, result.reason) == ("SI SIAO indisponible", "pas de réponse en 4 s")
    assert time.perf_counter() - started < 1.0  # the console never waited for SI SIAO
    assert (await lookups.wait(lookup_id)).state is LookupState.UNAVAILABLE


async def test_given_sisiao_never_answers_then_the_lookup_ends_on_its_own_timer(
    client: HttpSiSiaoClient, clock: VirtualClock, sisiao: FakeSiSiao
) -> None:
    sisiao.mode = "slow"
    lookups = LookupService(client, clock, timeout=0.05)
    started = time.perf_counter()
    result = await lookups.wait(lookups.start_search_by_phone("06 39 98 01 01"))
    assert (result.state, result.reason) == (LookupState.UNAVAILABLE, "pas de réponse en 0.05 s")
    assert time.perf_counter() - started < 1.0
    await lookups.aclose()


async def test_given_an_unknown_lookup_id_then_a_clear_error(lookups: LookupService) -> None:
    with pytest.raises(UnknownLookupError):
        lookups.result("pas-un-identifiant")
