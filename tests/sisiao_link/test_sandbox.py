"""The HTTP client against the sandbox app, end to end (in process), and the contract document."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from sisiao_link.client import HttpSiSiaoClient
from sisiao_link.contract import render_yaml
from sisiao_link.outbox import Outbox, create_schema
from sisiao_link.port import (
    Composition,
    ElementLot,
    NouvelleDemandeUrgence,
    NouvellePersonne,
    PublicSpecifique,
    Sexe,
    SiSiaoRejected,
    SiSiaoUnavailable,
    StatutDemande,
)
from sisiao_link.sandbox import create_sandbox_app
from sisiao_link.sandbox_store import Espace, SandboxStore
from tests.sisiao_link.fakes import VirtualClock

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "sisiao-openapi.yaml"
LISTENER = "c.dupont@siao91.example"
SOPHIE_MARTIN_MENAGE = "2780000001"
PETIT_MENAGE = "2780000003"  # seeded with an open emergency request


async def no_sleep(_: float) -> None:
    return None


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "sandbox.sqlite3"


def make_app(db_path: Path, clock: VirtualClock) -> FastAPI:
    return create_sandbox_app(str(db_path), clock=clock)


@pytest.fixture
def app(db_path: Path, clock: VirtualClock) -> Iterator[FastAPI]:
    app = make_app(db_path, clock)
    yield app
    app.state.engine.dispose()


@pytest.fixture
def transport(app: FastAPI) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=app)


@pytest.fixture
async def http(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        yield client


@pytest.fixture
def client(http: httpx.AsyncClient, clock: VirtualClock) -> HttpSiSiaoClient:
    return HttpSiSiaoClient(http, "http://sandbox", "ivr-115", "bac-a-sable", clock, sleep=no_sleep)


def store(app: FastAPI) -> SandboxStore:
    sandbox: SandboxStore = app.state.store
    return sandbox


def new_person(nom: str = "NOUVEAU") -> NouvelleDemandeUrgence:
    return NouvelleDemandeUrgence(
        nouvelle_personne=NouvellePersonne(
            nom=nom, prenom="Aïcha", sexe=Sexe.FEMME, telephone="06 39 98 02 00"
        ),
        composition=Composition.FEMME_SEULE_AVEC_ENFANTS,
        publics_specifiques=[PublicSpecifique.FVV],
        departement="91",
        observations="Appel depuis une cabine, deux enfants.",
    )


@pytest.mark.parametrize("number", ["06 39 98 01 01", "+33639980101", "0639980101"])
async def test_given_the_seeded_sandbox_when_searching_by_phone_then_the_household_is_found(
    client: HttpSiSiaoClient, number: str
) -> None:
    (personne,) = await client.search_personnes_by_phone(number)
    assert (personne.nom, personne.prenom, personne.menage_id) == (
        "MARTIN",
        "Sophie",
        SOPHIE_MARTIN_MENAGE,
    )
    menage = await client.get_menage(personne.menage_id)
    assert menage is not None
    assert menage.composition is Composition.FEMME_SEULE_AVEC_ENFANTS
    assert menage.publics_specifiques == [PublicSpecifique.FVV]
    assert [m.prenom for m in menage.membres] == ["Sophie", "Léo", "Jade"]
    assert menage.personne_reference_id == personne.id


async def test_given_accents_and_case_differ_when_searching_by_identity_then_found(
    client: HttpSiSiaoClient,
) -> None:
    (personne,) = await client.search_personnes_by_identity("lefevre", "chloe", date(1983, 12, 2))
    assert (personne.nom, personne.prenom) == ("LEFÈVRE", "Chloé")
    assert await client.search_personnes_by_identity("lefevre", None, date(1983, 12, 3)) == []


async def test_given_a_seeded_open_request_when_reading_the_household_then_it_is_listed(
    client: HttpSiSiaoClient,
) -> None:
    menage = await client.get_menage(PETIT_MENAGE)
    assert menage is not None
    assert menage.composition is Composition.COUPLE_AVEC_ENFANTS
    (ouverte,) = menage.demandes_ouvertes
    assert (ouverte.statut, ouverte.departement) == (StatutDemande.EN_ATTENTE, "91")


async def test_when_a_request_is_created_for_a_new_person_then_sisiao_creates_the_household(
    client: HttpSiSiaoClient, clock: VirtualClock
) -> None:
    demande = await client.create_demande_urgence(new_person(), LISTENER, "cle-nouvelle-0001")
    assert (demande.auteur, demande.statut, demande.date_creation) == (
        LISTENER,
        StatutDemande.EN_ATTENTE,
        clock(),
    )
    menage = await client.get_menage(demande.menage_id)
    assert menage is not None
    assert menage.composition is Composition.FEMME_SEULE_AVEC_ENFANTS
    assert [(p.nom, p.telephone) for p in menage.membres] == [("NOUVEAU", "+33639980200")]
    assert [d.id for d in menage.demandes_ouvertes] == [demande.id]
    status = await client.get_demande_status(demande.id)
    assert status is not None
    assert (status.statut, status.libelle) == (StatutDemande.EN_ATTENTE, "En attente d'orientation")


async def test_given_the_same_idempotency_key_twice_then_the_sandbox_creates_one_request(
    client: HttpSiSiaoClient, app: FastAPI
) -> None:
    first = await client.create_demande_urgence(new_person(), LISTENER, "cle-rejouee-0001")
    again = await client.create_demande_urgence(new_person(), LISTENER, "cle-rejouee-0001")
    assert again == first
    assert store(app).count_demandes() == 2  # the seeded one and this one

    with pytest.raises(SiSiaoRejected) as reused:
        await client.create_demande_urgence(new_person("AUTRE"), LISTENER, "cle-rejouee-0001")
    assert reused.value.reason == "Cette clé d'idempotence a déjà servi pour une autre demande."


@pytest.mark.parametrize(
    ("demande", "reason"),
    [
        (
            NouvelleDemandeUrgence(menage_id=PETIT_MENAGE, departement="91"),
            "Une demande d'urgence est déjà ouverte pour ce ménage (n° 4500000001).",
        ),
        (
            NouvelleDemandeUrgence(menage_id="2789999999", departement="91"),
            "Ménage 2789999999 introuvable dans SI SIAO.",
        ),
        (
            NouvelleDemandeUrgence(menage_id=SOPHIE_MARTIN_MENAGE, departement="20"),
            "Département inconnu : 20.",
        ),
    ],
    ids=["demande-deja-ouverte", "menage-inconnu", "departement-inconnu"],
)
async def test_given_a_request_sisiao_refuses_then_rejected_with_the_reason_shown(
    client: HttpSiSiaoClient, demande: NouvelleDemandeUrgence, reason: str
) -> None:
    with pytest.raises(SiSiaoRejected) as rejected:
        await client.create_demande_urgence(demande, LISTENER, "cle-refusee-0001")
    assert rejected.value.reason == reason


async def test_given_a_batch_then_each_element_is_created_refused_or_replayed_in_order(
    client: HttpSiSiaoClient, app: FastAPI
) -> None:
    already = await client.create_demande_urgence(new_person("DEJA"), LISTENER, "cle-lot-0000")
    lot = [
        ElementLot(cle_idempotence="cle-lot-0001", utilisateur=LISTENER, demande=new_person("UN")),
        ElementLot(
            cle_idempotence="cle-lot-0002",
            utilisateur="b.martin@siao91.example",
            demande=NouvelleDemandeUrgence(menage_id="2789999999", departement="91"),
        ),
        ElementLot(
            cle_idempotence="cle-lot-0000", utilisateur=LISTENER, demande=new_person("DEJA")
        ),
        ElementLot(
            cle_idempotence="cle-lot-0003",
            utilisateur="b.martin@siao91.example",
            demande=new_person("TROIS"),
        ),
    ]
    resultats = await client.create_demandes_urgence(lot)

    assert [(r.cle_idempotence, r.statut) for r in resultats] == [
        ("cle-lot-0001", 201),
        ("cle-lot-0002", 422),
        ("cle-lot-0000", 200),
        ("cle-lot-0003", 201),
    ]
    assert resultats[1].reason == "Ménage 2789999999 introuvable dans SI SIAO."
    assert resultats[2].demande == already
    created = [r.demande for r in resultats if r.statut == 201]
    assert [(d.auteur, int(d.id)) for d in created if d] == [
        (LISTENER, int(already.id) + 1),
        ("b.martin@siao91.example", int(already.id) + 2),
    ]
    assert store(app).count_demandes() == 4  # seeded, "DEJA", "UN", "TROIS"


async def test_given_the_sandbox_restarted_when_the_old_token_is_refused_then_a_new_one_works(
    client: HttpSiSiaoClient,
    transport: httpx.ASGITransport,
    db_path: Path,
    clock: VirtualClock,
) -> None:
    assert len(await client.search_personnes_by_phone("0639980102")) == 1
    restarted = make_app(db_path, clock)  # same data, tokens forgotten
    transport.app = restarted
    try:
        (personne,) = await client.search_personnes_by_phone("0639980102")
        assert (personne.nom, personne.prenom) == ("BERNARD", "Karim")
    finally:
        restarted.state.engine.dispose()


async def test_given_the_probe_realm_then_test_data_stays_apart_and_vital_functions_pass(
    client: HttpSiSiaoClient, app: FastAPI
) -> None:
    assert await client.search_personnes_by_phone("06 39 98 00 00") == []  # probe person
    report = await client.check_vital_functions()
    assert report.ok
    assert store(app).count_demandes(Espace.TEST) == 1
    assert store(app).count_demandes(Espace.PRODUCTION) == 1  # only the seeded request


async def test_given_the_sandbox_outage_switch_then_calls_fail_and_the_probe_says_so(
    client: HttpSiSiaoClient, http: httpx.AsyncClient
) -> None:
    assert (await http.put("/_sandbox/panne", json={"active": True})).status_code == 200
    with pytest.raises(SiSiaoUnavailable, match=r"HTTP 503"):
        await client.get_menage(SOPHIE_MARTIN_MENAGE)
    report = await client.check_vital_functions()
    assert report.failures == ["recherche de personne", "création de demande"]
    await http.put("/_sandbox/panne", json={"active": False})
    assert (await client.check_vital_functions()).ok


async def test_given_no_token_then_401_problem_details_in_french(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/personnes", params={"telephone": "0639980101"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "Jeton d'accès absent, expiré ou révoqué."


async def test_given_wrong_client_credentials_then_invalid_client(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("ivr-115", "faux")
    )
    assert (response.status_code, response.json()) == (401, {"error": "invalid_client"})


async def test_given_a_write_without_idempotency_key_then_a_french_validation_problem(
    http: httpx.AsyncClient,
) -> None:
    token = (
        await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("ivr-115", "bac-a-sable"),
        )
    ).json()["access_token"]
    response = await http.post(
        "/v1/demandes-urgence",
        json={"menage_id": SOPHIE_MARTIN_MENAGE, "departement": "91"},
        headers={"Authorization": f"Bearer {token}", "SISIAO-Utilisateur": LISTENER},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "Requête invalide : en-tête Idempotency-Key : champ obligatoire."
    )


async def test_given_the_outbox_in_front_of_the_sandbox_then_the_listener_sees_the_sisiao_number(
    client: HttpSiSiaoClient, clock: VirtualClock, app: FastAPI, tmp_path: Path
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'service.sqlite3'}")
    try:
        create_schema(engine)
        outbox = Outbox(engine, client, clock)
        local_id = outbox.submit(new_person(), LISTENER)
        assert (await outbox.drain_once()).sent == 1
        status = outbox.status(local_id)
        assert status is not None
        assert status.sisiao_demande_id is not None
        sisiao_status = await client.get_demande_status(status.sisiao_demande_id)
        assert sisiao_status is not None
        assert status.label == f"envoyée (n° SI SIAO {sisiao_status.demande_id})"
        assert store(app).count_demandes() == 2
    finally:
        engine.dispose()


def test_the_contract_document_matches_the_sandbox_and_models() -> None:
    assert CONTRACT.read_text(encoding="utf-8") == render_yaml(), (
        "docs/sisiao-openapi.yaml is stale: run "
        "`.venv/bin/python -m sisiao_link.contract docs/sisiao-openapi.yaml`"
    )


def test_the_contract_speaks_sisiao_and_declares_client_credentials() -> None:
    import yaml

    document = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    assert sorted(document["paths"]) == [
        "/oauth/token",
        "/v1/demandes-urgence",
        "/v1/demandes-urgence/lot",
        "/v1/demandes/{demande_id}/statut",
        "/v1/menages/{menage_id}",
        "/v1/personnes",
    ]
    flows = document["components"]["securitySchemes"]["siSiaoClientCredentials"]["flows"]
    assert flows == {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}}}
    create = document["paths"]["/v1/demandes-urgence"]["post"]
    headers = {p["name"]: p["required"] for p in create["parameters"] if p["in"] == "header"}
    assert headers == {"Idempotency-Key": True, "SISIAO-Utilisateur": True, "SISIAO-Espace": False}
    compositions = document["components"]["schemas"]["Composition"]["enum"]
    assert "Femme seule avec enfant(s)" in compositions
    assert "FVV" in document["components"]["schemas"]["PublicSpecifique"]["enum"]
