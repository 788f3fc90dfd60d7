"""The HTTP client against handler functions that play SI SIAO, failures included."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest

from sisiao_link.breaker import BreakerState, CircuitBreaker
from sisiao_link.client import HttpSiSiaoClient
from sisiao_link.port import (
    IDEMPOTENCY_HEADER,
    REALM_HEADER,
    USER_HEADER,
    Composition,
    ElementLot,
    NouvelleDemandeUrgence,
    PublicSpecifique,
    SiSiaoPort,
    SiSiaoRejected,
    SiSiaoUnavailable,
)
from tests.sisiao_link.fakes import FakeSiSiao, VirtualClock

DEMANDE = NouvelleDemandeUrgence(menage_id="2780000001", departement="91", observations="Gare")


async def no_sleep(_: float) -> None:
    return None


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


def make_client(
    http: httpx.AsyncClient, clock: VirtualClock, **options: object
) -> HttpSiSiaoClient:
    return HttpSiSiaoClient(
        http,
        "https://sisiao.test/api/",
        "ivr-115",
        "secret",
        clock,
        sleep=no_sleep,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def client(http: httpx.AsyncClient, clock: VirtualClock) -> HttpSiSiaoClient:
    return make_client(http, clock)


def api_requests(sisiao: FakeSiSiao) -> list[httpx.Request]:
    return [r for r in sisiao.requests if not r.url.path.endswith("/oauth/token")]


def test_the_http_client_implements_the_port(client: HttpSiSiaoClient) -> None:
    assert isinstance(client, SiSiaoPort)


async def test_given_a_known_number_when_searching_by_phone_then_the_person_and_household_come_back(
    client: HttpSiSiaoClient,
) -> None:
    personnes = await client.search_personnes_by_phone("06 39 98 01 01")
    assert [(p.nom, p.prenom, p.menage_id) for p in personnes] == [
        ("MARTIN", "Sophie", "2780000001")
    ]
    menage = await client.get_menage(personnes[0].menage_id)
    assert menage is not None
    assert menage.composition is Composition.FEMME_SEULE_AVEC_ENFANTS
    assert menage.publics_specifiques == [PublicSpecifique.FVV]
    assert [m.prenom for m in menage.membres] == ["Sophie", "Léo"]


async def test_given_an_unknown_household_when_read_then_none(client: HttpSiSiaoClient) -> None:
    assert await client.get_menage("2789999999") is None


async def test_when_searching_by_identity_then_name_and_birth_date_are_sent(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao
) -> None:
    assert await client.search_personnes_by_identity("Martin", "Sophie", date(1988, 4, 12)) == []
    params = api_requests(sisiao)[0].url.params
    assert (params["nom"], params["prenom"], params["date_naissance"]) == (
        "Martin",
        "Sophie",
        "1988-04-12",
    )


async def test_given_a_valid_token_when_calling_twice_then_one_token_request(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao
) -> None:
    await client.search_personnes_by_phone("06 39 98 01 01")
    await client.search_personnes_by_phone("06 39 98 01 01")
    assert sisiao.token_requests == 1
    auth = {r.headers["Authorization"] for r in api_requests(sisiao)}
    assert len(auth) == 1
    assert auth.pop().startswith("Bearer ")


async def test_given_a_token_about_to_expire_when_calling_then_it_is_refreshed_first(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao, clock: VirtualClock
) -> None:
    await client.search_personnes_by_phone("06 39 98 01 01")
    clock.advance_now(sisiao.token_ttl - 20)  # inside the 30 s refresh margin
    await client.search_personnes_by_phone("06 39 98 01 01")
    assert sisiao.token_requests == 2
    assert all(r.url.path == "/api/v1/personnes" for r in api_requests(sisiao))
    assert len(api_requests(sisiao)) == 2  # no request went out with the old token


async def test_given_sisiao_revoked_the_token_when_calling_then_401_then_a_fresh_token_succeeds(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao
) -> None:
    await client.search_personnes_by_phone("06 39 98 01 01")
    sisiao.revoke_tokens()
    personnes = await client.search_personnes_by_phone("06 39 98 01 01")
    assert [p.id for p in personnes] == ["3100000001"]
    assert sisiao.token_requests == 2
    first, refused, retried = api_requests(sisiao)
    assert refused.headers["Authorization"] == first.headers["Authorization"]
    assert retried.headers["Authorization"] != refused.headers["Authorization"]


async def test_given_wrong_credentials_when_calling_then_unavailable_and_no_api_call(
    http: httpx.AsyncClient, clock: VirtualClock, sisiao: FakeSiSiao
) -> None:
    sisiao.client_secret = "another"
    client = make_client(http, clock)
    with pytest.raises(SiSiaoUnavailable, match="SI SIAO refuse les identifiants du service"):
        await client.search_personnes_by_phone("06 39 98 01 01")
    assert api_requests(sisiao) == []


async def test_given_sisiao_answers_503_when_reading_then_three_attempts_then_unavailable(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao
) -> None:
    await client.search_personnes_by_phone("06 39 98 01 01")
    sisiao.requests.clear()
    sisiao.mode = "503"
    with pytest.raises(SiSiaoUnavailable, match=r"SI SIAO indisponible \(HTTP 503\)"):
        await client.search_personnes_by_phone("06 39 98 01 01")
    assert len(sisiao.requests) == 3


async def test_given_one_transient_503_when_reading_then_the_retry_succeeds(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao
) -> None:
    sisiao.fail_next = 1
    personnes = await client.search_personnes_by_phone("06 39 98 01 01")
    assert len(personnes) == 1
    assert len(api_requests(sisiao)) == 2


async def test_given_sisiao_times_out_when_reading_then_unavailable_with_a_french_reason(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao
) -> None:
    sisiao.mode = "timeout"
    with pytest.raises(SiSiaoUnavailable, match="SI SIAO n'a pas répondu dans le délai"):
        await client.get_menage("2780000001")


async def test_given_sisiao_unreachable_when_reading_then_unavailable(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao
) -> None:
    sisiao.mode = "connect_error"
    with pytest.raises(SiSiaoUnavailable, match=r"SI SIAO injoignable \(ConnectError\)"):
        await client.get_menage("2780000001")


async def test_given_a_slow_answer_when_reading_then_the_call_gives_up_at_its_deadline(
    http: httpx.AsyncClient, clock: VirtualClock, sisiao: FakeSiSiao
) -> None:
    client = make_client(http, clock, timeout=0.05, retry_attempts=2)
    sisiao.mode = "slow"
    started = time.perf_counter()
    with pytest.raises(SiSiaoUnavailable, match=r"pas répondu dans le délai \(0.05 s\)"):
        await client.search_personnes_by_phone("06 39 98 01 01")
    assert time.perf_counter() - started < 1.0  # the fake would have taken 10 s per answer


async def test_given_a_malformed_body_when_reading_then_unavailable_without_retry(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao
) -> None:
    sisiao.malformed_next = 1
    with pytest.raises(SiSiaoUnavailable, match="réponse illisible de SI SIAO"):
        await client.search_personnes_by_phone("06 39 98 01 01")
    assert len(api_requests(sisiao)) == 1


async def test_when_creating_a_request_then_the_listener_and_an_idempotency_key_are_sent(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao
) -> None:
    demande = await client.create_demande_urgence(DEMANDE, "c.dupont@siao91.example", "key-0001")
    assert demande.auteur == "c.dupont@siao91.example"
    (sent,) = api_requests(sisiao)
    assert sent.headers[IDEMPOTENCY_HEADER] == "key-0001"
    assert sent.headers[USER_HEADER] == "c.dupont@siao91.example"
    assert REALM_HEADER not in sent.headers


async def test_given_the_answer_to_a_creation_is_lost_when_retried_then_sisiao_creates_it_once(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao
) -> None:
    sisiao.lose_next_creation_answers = 1
    demande = await client.create_demande_urgence(DEMANDE, "c.dupont@siao91.example", "key-0002")
    assert sisiao.creation_attempts == 2
    assert [c.key for c in sisiao.creations] == ["key-0002"]
    assert demande.id == sisiao.creations[0].demande["id"]
    assert {r.headers[IDEMPOTENCY_HEADER] for r in api_requests(sisiao)} == {"key-0002"}


async def test_given_the_same_key_twice_when_creating_then_the_same_request_comes_back(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao
) -> None:
    first = await client.create_demande_urgence(DEMANDE, "c.dupont@siao91.example", "key-0003")
    again = await client.create_demande_urgence(DEMANDE, "c.dupont@siao91.example", "key-0003")
    assert again == first
    assert len(sisiao.creations) == 1


async def test_when_creating_a_batch_then_each_element_carries_its_key_and_listener(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao
) -> None:
    lot = [
        ElementLot(cle_idempotence=f"key-lot-{n}", utilisateur=f"ecoutant{n}@x.fr", demande=DEMANDE)
        for n in range(3)
    ]
    resultats = await client.create_demandes_urgence(lot)
    assert [r.statut for r in resultats] == [201, 201, 201]
    assert [(c.key, c.user) for c in sisiao.creations] == [
        (f"key-lot-{n}", f"ecoutant{n}@x.fr") for n in range(3)
    ]
    assert [r.demande.id for r in resultats if r.demande] == [
        c.demande["id"] for c in sisiao.creations
    ]


async def test_given_the_answer_to_a_batch_is_lost_when_retried_then_each_request_exists_once(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao
) -> None:
    sisiao.lose_next_creation_answers = 1
    lot = [
        ElementLot(cle_idempotence=f"key-lot-{n}", utilisateur="e@x.fr", demande=DEMANDE)
        for n in range(2)
    ]
    resultats = await client.create_demandes_urgence(lot)
    assert [r.statut for r in resultats] == [200, 200]  # replayed: created by the lost call
    assert sisiao.batch_calls == 2
    assert [c.key for c in sisiao.creations] == ["key-lot-0", "key-lot-1"]


async def test_given_a_batch_answer_that_does_not_match_the_batch_then_unavailable(
    clock: VirtualClock, sisiao: FakeSiSiao
) -> None:
    async def drop_last_result(request: httpx.Request) -> httpx.Response:
        response = await sisiao.handle(request)
        if request.url.path.endswith("/lot"):
            body = json.loads(response.content)
            return httpx.Response(200, json={"resultats": body["resultats"][:-1]})
        return response

    lot = [
        ElementLot(cle_idempotence=f"key-lot-{n}", utilisateur="e@x.fr", demande=DEMANDE)
        for n in range(2)
    ]
    async with httpx.AsyncClient(transport=httpx.MockTransport(drop_last_result)) as http:
        client = make_client(http, clock)
        with pytest.raises(
            SiSiaoUnavailable, match=r"réponse illisible de SI SIAO \(lot incomplet\)"
        ):
            await client.create_demandes_urgence(lot)


async def test_given_sisiao_refuses_a_creation_then_rejected_with_its_reason_and_no_retry(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao
) -> None:
    reason = "Une demande d'urgence est déjà ouverte pour ce ménage (n° 4500000001)."
    sisiao.reject_with = (409, {"title": "Déjà ouverte", "status": 409, "detail": reason})
    with pytest.raises(SiSiaoRejected) as rejected:
        await client.create_demande_urgence(DEMANDE, "c.dupont@siao91.example", "key-0004")
    assert rejected.value.reason == reason
    assert rejected.value.status_code == 409
    assert sisiao.creation_attempts == 1


async def test_given_a_refusal_without_problem_details_then_a_generic_french_reason(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao
) -> None:
    sisiao.reject_with = (400, {"oops": True})
    with pytest.raises(SiSiaoRejected, match=r"SI SIAO a refusé l'opération \(HTTP 400\)"):
        await client.create_demande_urgence(DEMANDE, "c.dupont@siao91.example", "key-0005")


async def test_given_a_created_request_when_reading_its_status_then_the_french_label(
    client: HttpSiSiaoClient,
) -> None:
    demande = await client.create_demande_urgence(DEMANDE, "c.dupont@siao91.example", "key-0006")
    status = await client.get_demande_status(demande.id)
    assert status is not None
    assert (status.demande_id, status.libelle) == (demande.id, "En attente d'orientation")
    assert await client.get_demande_status("4509999999") is None


async def test_given_repeated_failures_then_the_breaker_opens_and_calls_fail_without_traffic(
    http: httpx.AsyncClient, clock: VirtualClock, sisiao: FakeSiSiao
) -> None:
    breaker = CircuitBreaker(clock, failure_threshold=2, reset_timeout=timedelta(seconds=30))
    client = make_client(http, clock, breaker=breaker, retry_attempts=1)
    sisiao.mode = "503"
    for _ in range(2):
        with pytest.raises(SiSiaoUnavailable):
            await client.search_personnes_by_phone("06 39 98 01 01")
    after_failures = breaker.state
    assert after_failures is BreakerState.OPEN
    sent = len(sisiao.requests)
    with pytest.raises(SiSiaoUnavailable, match="appels suspendus"):
        await client.search_personnes_by_phone("06 39 98 01 01")
    assert len(sisiao.requests) == sent

    sisiao.mode = "up"
    clock.advance_now(30)
    after_reset_timeout = breaker.state
    assert after_reset_timeout is BreakerState.HALF_OPEN
    assert len(await client.search_personnes_by_phone("06 39 98 01 01")) == 1
    after_trial = breaker.state
    assert after_trial is BreakerState.CLOSED


async def test_given_a_half_open_breaker_when_the_trial_fails_then_it_opens_again(
    http: httpx.AsyncClient, clock: VirtualClock, sisiao: FakeSiSiao
) -> None:
    breaker = CircuitBreaker(clock, failure_threshold=1, reset_timeout=timedelta(seconds=30))
    client = make_client(http, clock, breaker=breaker, retry_attempts=1)
    sisiao.mode = "connect_error"
    with pytest.raises(SiSiaoUnavailable):
        await client.get_menage("2780000001")
    clock.advance_now(31)
    with pytest.raises(SiSiaoUnavailable, match="injoignable"):
        await client.get_menage("2780000001")
    assert breaker.state is BreakerState.OPEN


async def test_given_a_rejection_then_the_breaker_counts_sisiao_as_alive(
    http: httpx.AsyncClient, clock: VirtualClock, sisiao: FakeSiSiao
) -> None:
    breaker = CircuitBreaker(clock, failure_threshold=1)
    client = make_client(http, clock, breaker=breaker, retry_attempts=1)
    sisiao.reject_with = (422, {"title": "x", "status": 422, "detail": "Département inconnu : 99."})
    for key in ("key-0007", "key-0008"):
        with pytest.raises(SiSiaoRejected):
            await client.create_demande_urgence(DEMANDE, "c.dupont@siao91.example", key)
    assert breaker.state is BreakerState.CLOSED


async def test_given_sisiao_up_when_probing_vital_functions_then_both_pass_in_the_test_realm(
    client: HttpSiSiaoClient, sisiao: FakeSiSiao, clock: VirtualClock
) -> None:
    report = await client.check_vital_functions()
    assert report.ok
    assert report.failures == []
    assert report.checked_at == clock()
    search, creation = api_requests(sisiao)
    assert search.headers[REALM_HEADER] == "test"
    assert creation.headers[REALM_HEADER] == "test"
    assert creation.url.path == "/api/v1/demandes-urgence"


async def test_given_sisiao_down_and_breaker_open_when_probing_then_failures_are_real_answers(
    http: httpx.AsyncClient, clock: VirtualClock, sisiao: FakeSiSiao
) -> None:
    breaker = CircuitBreaker(clock, failure_threshold=1)
    client = make_client(http, clock, breaker=breaker)
    sisiao.mode = "503"
    with pytest.raises(SiSiaoUnavailable):
        await client.get_menage("2780000001")
    sisiao.requests.clear()
    report = await client.check_vital_functions()
    assert not report.ok
    assert report.failures == ["recherche de personne", "création de demande"]
    assert report.person_search.error == "SI SIAO indisponible (HTTP 503)"
    assert len(sisiao.requests) == 2  # one honest attempt each, despite the open breaker
