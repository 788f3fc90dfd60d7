"""The AML receiver: POST /aml (signed JSON) and POST /aml/sms (gateway), 4xx never 500."""

from __future__ import annotations

import json
import logging
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoloc.aml import sign_aml_body
from geoloc.http import build_router
from geoloc.locator import Locator
from geoloc.store import RecentPositions

with warnings.catch_warnings():
    # Starlette now prefers httpx2 for its TestClient; the lock carries httpx (the
    # integrator owns dependencies), so its import-time deprecation notice is silenced here.
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

KEY = b"cle-partagee-passerelle-aml"
NOW = datetime(2026, 1, 15, 10, 1, 0, tzinfo=UTC)
FORT_DE_FRANCE_SMS = (
    'A"ML=1;lt=+14.60920;lg=-61.07330;rd=25;top=20260115100000;lc=68;pm=G;'
    "si=208010000000000;ei=353456789012345;mcc=208;mnc=01;ml=124"
)


def clock() -> datetime:
    return NOW


def make_client(locator: Locator, key: bytes | None = KEY) -> tuple[TestClient, RecentPositions]:
    positions = RecentPositions(window=timedelta(minutes=15), clock=clock)
    app = FastAPI()
    app.include_router(build_router(locator, positions, key, clock))
    return TestClient(app, raise_server_exceptions=False), positions


def body(**overrides: Any) -> bytes:
    document: dict[str, Any] = {
        "v": 1,
        "caller": "+33612345678",
        "lat": 48.8566,
        "lon": 2.3522,
        "radius_m": 15,
        "positioned_at": "2026-01-15T10:00:30Z",
        "method": "G",
    }
    document.update(overrides)
    return json.dumps(document).encode()


def post(client: TestClient, path: str, content: bytes, key: bytes = KEY) -> Any:
    return client.post(
        path,
        content=content,
        headers={
            "X-AML-Signature": sign_aml_body(content, key),
            "Content-Type": "application/json",
        },
    )


def test_given_signed_aml_then_202_and_position_attached_to_the_caller(locator: Locator) -> None:
    client, positions = make_client(locator)
    response = post(client, "/aml", body())
    assert response.status_code == 202
    payload = response.json()
    assert payload["departement"] == "75"
    assert payload["commune"] == "75056"
    assert payload["source"] == "aml"
    assert payload["accuracy_m"] == 15
    assert payload["caller"] == "+33612345678"
    stored = positions.latest("06 12 34 56 78", NOW)
    assert stored is not None
    assert stored.lat == pytest.approx(48.8566)


def test_given_sms_from_gateway_then_972_attached_to_the_sender(locator: Locator) -> None:
    client, positions = make_client(locator)
    content = json.dumps({"sender": "0696 20 12 34", "text": FORT_DE_FRANCE_SMS}).encode()
    response = post(client, "/aml/sms", content)
    assert response.status_code == 202
    assert response.json()["departement"] == "972"
    assert response.json()["accuracy_m"] == 25
    stored = positions.latest("+596696201234", NOW)
    assert stored is not None
    assert stored.caller == "+596696201234"


def test_given_missing_signature_then_401_logged(
    locator: Locator, caplog: pytest.LogCaptureFixture
) -> None:
    client, positions = make_client(locator)
    with caplog.at_level(logging.WARNING, logger="geoloc.aml"):
        response = client.post("/aml", content=body())
    assert response.status_code == 401
    assert response.json() == {"detail": "Signature absente (en-tête X-AML-Signature)."}
    assert "Signature absente" in caplog.text
    assert len(positions) == 0


def test_given_wrong_signature_then_403(locator: Locator) -> None:
    client, positions = make_client(locator)
    response = post(client, "/aml", body(), key=b"pas-la-bonne-cle")
    assert response.status_code == 403
    assert response.json() == {"detail": "Signature invalide."}
    assert len(positions) == 0


def test_given_wrong_signature_on_sms_route_then_403(locator: Locator) -> None:
    client, _ = make_client(locator)
    content = json.dumps({"sender": "+33612345678", "text": FORT_DE_FRANCE_SMS}).encode()
    response = post(client, "/aml/sms", content, key=b"autre")
    assert response.status_code == 403


def test_given_no_key_configured_then_refused_closed(locator: Locator) -> None:
    client, _ = make_client(locator, key=None)
    response = post(client, "/aml", body())
    assert response.status_code == 403
    assert response.json() == {"detail": "Réception AML désactivée : aucune clé HMAC configurée."}


def test_given_signed_but_bad_payload_then_422_with_french_detail_logged(
    locator: Locator, caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = make_client(locator)
    with caplog.at_level(logging.WARNING, logger="geoloc.aml"):
        response = post(client, "/aml", body(lat=123.0))
    assert response.status_code == 422
    assert response.json() == {"detail": "Latitude hors limites (−90 à 90)."}
    assert "Latitude hors limites" in caplog.text


def test_given_malformed_sms_text_then_422(locator: Locator) -> None:
    client, _ = make_client(locator)
    content = json.dumps({"sender": "+33612345678", "text": 'A"ML=1;lt=abc'}).encode()
    response = post(client, "/aml/sms", content)
    assert response.status_code == 422
    assert response.json() == {"detail": "Champ AML obligatoire « lg » absent."}


@pytest.mark.parametrize(
    ("envelope", "detail"),
    [
        ({"text": FORT_DE_FRANCE_SMS}, "Champ « sender » : numéro de l'expéditeur attendu."),
        (
            {"sender": "n'importe quoi", "text": FORT_DE_FRANCE_SMS},
            "Champ « sender » : numéro de l'expéditeur invalide.",
        ),
        ({"sender": "+33612345678", "text": 42}, "Champ « text » : texte du SMS AML attendu."),
    ],
)
def test_given_bad_sms_envelope_then_422(
    locator: Locator, envelope: dict[str, Any], detail: str
) -> None:
    client, _ = make_client(locator)
    response = post(client, "/aml/sms", json.dumps(envelope).encode())
    assert response.status_code == 422
    assert response.json() == {"detail": detail}


def test_given_position_older_than_the_window_then_422_not_stored(locator: Locator) -> None:
    client, positions = make_client(locator)
    response = post(client, "/aml", body(positioned_at="2026-01-15T09:00:00Z"))
    assert response.status_code == 422
    assert response.json() == {"detail": "Position trop ancienne (61 min) : ignorée."}
    assert len(positions) == 0


def test_given_position_dated_in_the_future_then_422(locator: Locator) -> None:
    client, _ = make_client(locator)
    response = post(client, "/aml", body(positioned_at="2026-01-15T11:00:00Z"))
    assert response.status_code == 422
    assert response.json() == {"detail": "Horodatage de la position dans le futur."}


def test_given_oversized_body_then_413(locator: Locator) -> None:
    client, _ = make_client(locator)
    content = b"{" + b" " * 20_000 + b"}"
    response = post(client, "/aml", content)
    assert response.status_code == 413
    assert response.json() == {"detail": "Message trop volumineux."}


def test_given_aml_in_geneva_then_accepted_without_departement(locator: Locator) -> None:
    client, positions = make_client(locator)
    response = post(client, "/aml", body(lat=46.2044, lon=6.1432))
    assert response.status_code == 202
    assert response.json()["departement"] is None
    assert response.json()["confidence"] == "none"
    assert len(positions) == 1


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    content=st.binary(max_size=400)
    | st.text(max_size=300).map(str.encode)
    | st.dictionaries(
        st.sampled_from(
            ["v", "caller", "lat", "lon", "radius_m", "positioned_at", "sender", "text"]
        ),
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    ).map(lambda d: json.dumps(d).encode()),
    path=st.sampled_from(["/aml", "/aml/sms"]),
    signed=st.booleans(),
)
def test_given_any_body_then_never_a_server_error(
    locator: Locator, content: bytes, path: str, signed: bool
) -> None:
    client, _ = make_client(locator)
    headers = {"X-AML-Signature": sign_aml_body(content, KEY)} if signed else {}
    response = client.post(path, content=content, headers=headers)
    assert 200 <= response.status_code < 500
    if response.status_code >= 400:
        assert isinstance(response.json()["detail"], str)
