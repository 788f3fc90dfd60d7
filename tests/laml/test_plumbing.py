"""The pieces under the webhooks: eager start of the runtime's work, routes, XML output."""

from __future__ import annotations

import asyncio

import pytest

from ivr.transports.laml.eager import Finished, start_eagerly
from ivr.transports.laml.signature import compute_signature
from ivr.transports.laml.verbs import Document
from tests.laml.fakes import AUTH_TOKEN, PUBLIC_BASE_URL, Doc
from tests.laml.harness import Harness


async def answer_now() -> list[str]:
    return ["tout de suite"]


async def answer_later(gate: asyncio.Future[str]) -> list[str]:
    return [await gate]


async def fail_now() -> list[str]:
    raise LookupError("avant toute attente")


async def fail_later(gate: asyncio.Future[str]) -> list[str]:
    await gate
    raise LookupError("après l'attente")


async def test_given_work_that_never_waits_then_finished_without_a_task() -> None:
    started = start_eagerly(answer_now())
    assert started == Finished(["tout de suite"])


async def test_given_work_that_waits_then_a_task_finishes_it() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    started = start_eagerly(answer_later(gate))
    assert isinstance(started, asyncio.Task)
    assert not started.done()
    gate.set_result("plus tard")
    assert await started == ["plus tard"]


async def test_given_work_that_fails_before_waiting_then_the_error_is_raised_at_once() -> None:
    with pytest.raises(LookupError, match="avant toute attente"):
        start_eagerly(fail_now())


async def test_given_work_that_fails_after_waiting_then_the_task_carries_the_error() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    started = start_eagerly(fail_later(gate))
    assert isinstance(started, asyncio.Task)
    gate.set_result("ok")
    with pytest.raises(LookupError, match="après l'attente"):
        await started


async def test_given_the_awaited_future_fails_then_the_work_sees_the_error() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    started = start_eagerly(answer_later(gate))
    assert isinstance(started, asyncio.Task)
    gate.set_exception(TimeoutError("état partagé muet"))
    with pytest.raises(TimeoutError, match="état partagé muet"):
        await started


async def test_given_the_task_is_cancelled_then_the_work_is_cancelled_too() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    started = start_eagerly(answer_later(gate))
    assert isinstance(started, asyncio.Task)
    await asyncio.sleep(0)
    started.cancel()
    with pytest.raises(asyncio.CancelledError):
        await started
    assert gate.cancelled()


async def test_given_unknown_laml_address_then_404(service: Harness) -> None:
    url = f"{PUBLIC_BASE_URL}/laml/inconnue"
    response = await service.phone.post(url, {"CallSid": "CA1"})
    assert response.status_code == 404
    assert response.text == "Adresse inconnue."


async def test_given_get_request_then_405(service: Harness) -> None:
    response = await service.phone.http.get("/laml/voice")
    assert response.status_code == 405


async def test_given_signed_request_that_is_not_a_form_then_415(service: Harness) -> None:
    signature = compute_signature(AUTH_TOKEN, f"{PUBLIC_BASE_URL}/laml/voice", [])
    response = await service.phone.http.post(
        "/laml/voice",
        content=b'{"CallSid": "CA1"}',
        headers={"Content-Type": "application/json", "X-Twilio-Signature": signature},
    )
    assert response.status_code == 415
    assert response.text == "Type de contenu non pris en charge : formulaire urlencodé attendu."
    assert not service.transport.sessions


def test_given_text_with_markup_characters_then_escaped_in_the_document() -> None:
    doc = Document()
    doc.say('Sécurité & « santé » <urgent> "1"')
    doc.redirect("https://ivr.example.org/laml/wait?a=1&b=2")
    raw = doc.to_bytes()
    assert b"S\xc3\xa9curit\xc3\xa9 &amp; \xc2\xab sant\xc3\xa9 \xc2\xbb &lt;urgent&gt;" in raw
    parsed = Doc.parse(raw)
    assert parsed.said() == ['Sécurité & « santé » <urgent> "1"']
    assert parsed.verbs[1].text == "https://ivr.example.org/laml/wait?a=1&b=2"


def test_given_attribute_with_quotes_and_newlines_then_escaped() -> None:
    doc = Document()
    doc.gather(num_digits=1, timeout_s=5, action='https://x/"a"\nb')
    assert Doc.parse(doc.to_bytes()).verbs[0].attrs["action"] == 'https://x/"a"\nb'
