"""The provider's REST API client against respx: success, 4xx, 5xx, timeouts, retries."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from ivr.transports.laml import (
    OutboundCall,
    ProviderClient,
    ProviderRejectedError,
    ProviderUnavailableError,
)

TWILIO = "https://api.twilio.com/2010-04-01"
SIGNALWIRE = "https://exemple.signalwire.com/api/laml/2010-04-01"
ACCOUNT = "AC0123456789abcdef0123456789abcdef"
TOKEN = "jeton-api"
CALLS = f"{TWILIO}/Accounts/{ACCOUNT}/Calls.json"
LEG = OutboundCall(
    to="+33261910750",
    from_="+33353010750",
    url="https://ivr.example.org/laml/listener/answer?call=CA1&leg=ab",
    status_callback="https://ivr.example.org/laml/listener/status?call=CA1&leg=ab",
    timeout_s=20,
)
CREATED = {"sid": "CA" + "7" * 32, "status": "queued", "to": "+33261910750"}


async def no_sleep(_: float) -> None:
    return None


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=False) as client:  # respx answers: no TLS to set up
        yield client


def client(http: httpx.AsyncClient, base: str = TWILIO) -> ProviderClient:
    return ProviderClient(http, base, ACCOUNT, TOKEN, sleep=no_sleep)


@respx.mock
async def test_given_listener_leg_then_call_created_with_the_documented_form(
    http: httpx.AsyncClient,
) -> None:
    route = respx.post(CALLS).respond(201, json=CREATED)
    assert await client(http).create_call(LEG) == CREATED["sid"]
    request = route.calls.last.request
    expected_auth = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected_auth}"
    assert parse_qs(request.content.decode()) == {
        "To": ["+33261910750"],
        "From": ["+33353010750"],
        "Url": [LEG.url],
        "Method": ["POST"],
        "StatusCallback": [LEG.status_callback],
        "StatusCallbackMethod": ["POST"],
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "Timeout": ["20"],
    }


@respx.mock
async def test_given_signalwire_base_url_then_same_resource_under_the_laml_api(
    http: httpx.AsyncClient,
) -> None:
    route = respx.post(f"{SIGNALWIRE}/Accounts/{ACCOUNT}/Calls.json").respond(201, json=CREATED)
    assert await client(http, SIGNALWIRE).create_call(LEG) == CREATED["sid"]
    assert route.call_count == 1


@respx.mock
async def test_given_4xx_then_rejected_with_the_provider_code_and_not_retried(
    http: httpx.AsyncClient,
) -> None:
    error = {
        "code": 21211,
        "message": "The 'To' number +33261910750 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }
    route = respx.post(CALLS).respond(400, json=error)
    with pytest.raises(ProviderRejectedError) as raised:
        await client(http).create_call(LEG)
    assert (raised.value.status, raised.value.code) == (400, 21211)
    assert raised.value.message == error["message"]
    assert route.call_count == 1


@respx.mock
async def test_given_bad_credentials_then_rejected(http: httpx.AsyncClient) -> None:
    respx.post(CALLS).respond(401, text="Unauthorized")
    with pytest.raises(ProviderRejectedError) as raised:
        await client(http).create_call(LEG)
    assert raised.value.status == 401
    assert raised.value.code is None


@respx.mock
async def test_given_5xx_when_placing_a_call_then_unavailable_and_never_placed_twice(
    http: httpx.AsyncClient,
) -> None:
    route = respx.post(CALLS).respond(503)
    with pytest.raises(ProviderUnavailableError, match="provider error 503"):
        await client(http).create_call(LEG)
    assert route.call_count == 1  # the call may exist: ringing a listener twice is worse


@respx.mock
async def test_given_timeout_when_placing_a_call_then_unavailable_and_not_retried(
    http: httpx.AsyncClient,
) -> None:
    route = respx.post(CALLS).mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(ProviderUnavailableError, match="timed out"):
        await client(http).create_call(LEG)
    assert route.call_count == 1


@respx.mock
async def test_given_connection_refused_then_placing_the_call_is_retried(
    http: httpx.AsyncClient,
) -> None:
    route = respx.post(CALLS).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json=CREATED)]
    )
    assert await client(http).create_call(LEG) == CREATED["sid"]
    assert route.call_count == 2


@respx.mock
async def test_given_rate_limit_then_placing_the_call_is_retried(http: httpx.AsyncClient) -> None:
    route = respx.post(CALLS).mock(
        side_effect=[httpx.Response(429, json={"code": 20429}), httpx.Response(201, json=CREATED)]
    )
    assert await client(http).create_call(LEG) == CREATED["sid"]
    assert route.call_count == 2


@respx.mock
async def test_given_answer_without_sid_then_unavailable(http: httpx.AsyncClient) -> None:
    respx.post(CALLS).respond(201, json={"status": "queued"})
    with pytest.raises(ProviderUnavailableError, match="without a call sid"):
        await client(http).create_call(LEG)


@respx.mock
async def test_given_5xx_on_redirect_then_retried_until_it_succeeds(
    http: httpx.AsyncClient,
) -> None:
    url = f"{TWILIO}/Accounts/{ACCOUNT}/Calls/CA1.json"
    route = respx.post(url).mock(
        side_effect=[httpx.Response(500), httpx.Response(200, json={"sid": "CA1"})]
    )
    await client(http).redirect_call("CA1", "https://ivr.example.org/laml/resume?s=4")
    assert route.call_count == 2
    assert parse_qs(route.calls.last.request.content.decode()) == {
        "Url": ["https://ivr.example.org/laml/resume?s=4"],
        "Method": ["POST"],
    }


@respx.mock
async def test_given_provider_down_then_update_gives_up_after_its_attempts(
    http: httpx.AsyncClient,
) -> None:
    route = respx.post(f"{TWILIO}/Accounts/{ACCOUNT}/Calls/CA1.json").respond(502)
    with pytest.raises(ProviderUnavailableError):
        await client(http).end_call("CA1", answered=True)
    assert route.call_count == 3


@respx.mock
async def test_given_timeout_on_update_then_retried(http: httpx.AsyncClient) -> None:
    route = respx.post(f"{TWILIO}/Accounts/{ACCOUNT}/Calls/CA1.json").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json={"sid": "CA1"})]
    )
    await client(http).end_call("CA1", answered=False)
    assert route.call_count == 2


@respx.mock
@pytest.mark.parametrize(("answered", "status"), [(False, "canceled"), (True, "completed")])
async def test_given_leg_to_end_then_ringing_is_canceled_and_answered_is_completed(
    http: httpx.AsyncClient, answered: bool, status: str
) -> None:
    route = respx.post(f"{TWILIO}/Accounts/{ACCOUNT}/Calls/CA1.json").respond(200, json={})
    await client(http).end_call("CA1", answered=answered)
    assert parse_qs(route.calls.last.request.content.decode()) == {"Status": [status]}


@respx.mock
async def test_given_finished_queue_then_deleted(http: httpx.AsyncClient) -> None:
    route = respx.delete(f"{TWILIO}/Accounts/{ACCOUNT}/Queues/QU1.json").respond(204)
    await client(http).delete_queue("QU1")
    assert route.call_count == 1
