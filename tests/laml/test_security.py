"""Webhook signatures at the door, and clear 4xx for requests the service cannot act on."""

from __future__ import annotations

import logging

import pytest

from ivr.transports.laml.signature import compute_signature
from tests.laml.fakes import (
    ASSISTANCE,
    AUTH_TOKEN,
    PRIVATE_BASE_URL,
    PUBLIC_BASE_URL,
    Doc,
    InboundCall,
    Phone,
)
from tests.laml.harness import Harness

VOICE = f"{PUBLIC_BASE_URL}/laml/voice"


def nothing_executed(service: Harness) -> bool:
    return not service.runtime.calls and not service.transport.sessions


async def test_given_unsigned_request_then_403_and_nothing_executed(
    service: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    with caplog.at_level(logging.WARNING, logger="ivr.transports.laml"):
        response = await service.phone.post(VOICE, call.fields(), signature=None)
    assert response.status_code == 403
    assert response.text == "Requête refusée : signature du fournisseur absente ou invalide."
    assert nothing_executed(service)
    assert (
        f"LaML webhook refused (403) on /laml/voice: no X-Twilio-Signature or "
        f"X-SignalWire-Signature header [CallSid={call.sid}]" in caplog.messages
    )


async def test_given_signature_made_with_another_token_then_403_and_log_says_why(
    service: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    impostor = Phone(service.phone.http, token="un-autre-jeton")
    call = InboundCall(impostor, ASSISTANCE)
    with caplog.at_level(logging.WARNING, logger="ivr.transports.laml"):
        response = await impostor.post(VOICE, call.fields())
    assert response.status_code == 403
    assert nothing_executed(service)
    assert (
        f"LaML webhook refused (403) on /laml/voice: signature does not match {VOICE} "
        f"(check IVR_PUBLIC_BASE_URL and the auth token) [CallSid={call.sid}]" in caplog.messages
    )


async def test_given_field_changed_after_signing_then_403(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    fields = call.fields()
    genuine = compute_signature(AUTH_TOKEN, VOICE, fields.items())
    fields["To"] = "+33353010750"  # redirected to another line by someone in the middle
    response = await service.phone.post(VOICE, fields, signature=genuine)
    assert response.status_code == 403
    assert nothing_executed(service)


async def test_given_signature_over_the_private_url_then_403(service: Harness) -> None:
    """A request signed for the address the proxy forwards to is not the provider's."""
    call = InboundCall(service.phone, ASSISTANCE)
    response = await service.phone.post(
        VOICE, call.fields(), sign_url=f"{PRIVATE_BASE_URL}/laml/voice"
    )
    assert response.status_code == 403
    assert nothing_executed(service)


async def test_given_proxy_rewrote_host_and_scheme_then_signature_of_public_url_is_accepted(
    service: Harness,
) -> None:
    # The phone posts to http://10.0.0.5:8115/laml/voice, signed for https://ivr.example.org.
    call = InboundCall(service.phone, ASSISTANCE)
    doc = await call.start()
    assert doc.tags == ["Gather", "Redirect"]


async def test_given_provider_signed_with_default_port_then_accepted(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    response = await service.phone.post(
        VOICE, call.fields(), sign_url="https://ivr.example.org:443/laml/voice"
    )
    assert response.status_code == 200


async def test_given_proxy_rewrote_the_query_then_403(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    await call.start()
    fields = call.fields(Digits="75")
    signed_for = f"{PUBLIC_BASE_URL}/laml/gather?s=1"
    response = await service.phone.post(
        f"{PUBLIC_BASE_URL}/laml/gather?s=1&via=proxy", fields, sign_url=signed_for
    )
    assert response.status_code == 403
    assert service.runtime.state(call.sid) is not None
    assert service.runtime.state(call.sid).departement is None  # type: ignore[union-attr]


async def test_given_signalwire_signature_header_then_accepted(service: Harness) -> None:
    call = InboundCall(
        service.phone, ASSISTANCE, sid="6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    )  # SignalWire call ids are UUIDs
    response = await service.phone.post(VOICE, call.fields(), header="X-SignalWire-Signature")
    assert response.status_code == 200
    assert Doc.parse(response.content).tags == ["Gather", "Redirect"]


async def test_given_another_account_then_403_even_when_signed(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE, account_sid="AC" + "f" * 32)
    response = await service.phone.post(VOICE, call.fields())
    assert response.status_code == 403
    assert response.text == "Requête refusée : compte inconnu."
    assert nothing_executed(service)


async def test_given_json_body_then_refused_before_anything_runs(service: Harness) -> None:
    response = await service.phone.http.post(
        "/laml/voice", json={"CallSid": "CA1"}, headers={"X-Twilio-Signature": "x"}
    )
    assert response.status_code == 403
    assert nothing_executed(service)


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        (("CallSid",), "Champ manquant : CallSid"),
        (("To", "CallSid"), "Champs manquants : CallSid, To"),
    ],
)
async def test_given_fields_missing_then_400_names_them_in_french(
    service: Harness, missing: tuple[str, ...], message: str
) -> None:
    fields = InboundCall(service.phone, ASSISTANCE).fields()
    for name in missing:
        del fields[name]
    response = await service.phone.post(VOICE, fields)
    assert response.status_code == 400
    assert response.text == message
    assert nothing_executed(service)


async def test_given_no_account_sid_then_refused_as_another_account(service: Harness) -> None:
    fields = InboundCall(service.phone, ASSISTANCE).fields()
    del fields["AccountSid"]
    response = await service.phone.post(VOICE, fields)
    assert response.status_code == 403
    assert nothing_executed(service)


async def test_given_unknown_call_then_404_in_french(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    response = await service.phone.post(
        f"{PUBLIC_BASE_URL}/laml/gather?s=1", call.fields(Digits="75")
    )
    assert response.status_code == 404
    assert response.text == f"Appel inconnu : {call.sid}"


async def test_given_action_without_its_step_then_400(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    await call.start()
    response = await service.phone.post(f"{PUBLIC_BASE_URL}/laml/gather", call.fields(Digits="7"))
    assert response.status_code == 400
    assert response.text == "Paramètre manquant dans l'URL : s"


async def test_given_digits_for_a_step_the_call_has_left_then_409_and_flow_untouched(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    first = await call.start()
    await call.press(first, "75")
    state = service.runtime.state(call.sid)
    assert state is not None
    phase = state.phase
    # The <Gather> of step 1 was answered; its no-input <Redirect> comes late.
    response = await service.phone.post(f"{PUBLIC_BASE_URL}/laml/no-input?s=1", call.fields())
    assert response.status_code == 409
    assert response.text == f"Étape périmée pour l'appel {call.sid} : 1 (en cours : 2)"
    assert state.phase is phase
    assert state.departement == "75"
