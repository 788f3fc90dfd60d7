"""The fallback URL, the webhook budget, and commands that arrive outside a webhook."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from ivr.flow import CallFlow, prompts
from ivr.flow.vocabulary import Hangup, Outcome, Play, QueueStatus
from tests.laml.fakes import (
    ASSISTANCE,
    NATIONAL_SUPPORT,
    PARIS_115,
    PARIS_LISTENERS,
    PARIS_LRO,
    PUBLIC_BASE_URL,
    Doc,
    InboundCall,
)
from tests.laml.harness import SUNDAY_NIGHT, Harness, running

FALLBACK = f"{PUBLIC_BASE_URL}/laml/fallback"
LRO_TRANSFER = "Nous transférons votre appel. Merci de patienter."


def failed_request(call: InboundCall, **extra: str) -> dict[str, str]:
    """What the provider posts to the fallback URL: the failed request, and why it failed."""
    return call.fields(ErrorCode="11200", ErrorUrl=f"{PUBLIC_BASE_URL}/laml/gather?s=1", **extra)


async def test_given_primary_failed_for_a_115_number_then_fallback_walks_the_lro_chain(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, PARIS_115)
    doc = await service.phone.doc(FALLBACK, failed_request(call))
    # The département's listeners first, all together (the plan the dialplan follows too).
    assert doc.said() == []
    assert doc.dialled() == list(PARIS_LISTENERS)
    dial = doc.only("Dial")
    assert dial.attrs["action"] == f"{FALLBACK}?step=1"
    doc = await service.phone.doc(dial.attrs["action"], call.fields(DialCallStatus="no-answer"))
    assert doc.said() == [LRO_TRANSFER]
    assert doc.dialled() == [PARIS_LRO[0]]
    dial = doc.only("Dial")
    assert dial.attrs["action"] == f"{FALLBACK}?step=2"
    for step, number in enumerate(PARIS_LRO[1:], start=3):
        doc = await service.phone.doc(dial.attrs["action"], call.fields(DialCallStatus="no-answer"))
        dial = doc.only("Dial")
        assert doc.dialled() == [number]
        assert dial.attrs["action"] == f"{FALLBACK}?step={step}"
    last = await service.phone.doc(dial.attrs["action"], call.fields(DialCallStatus="busy"))
    assert last.tags == ["Say", "Hangup"]
    assert last.said()[0].startswith("Nous ne pouvons pas donner suite à votre appel")


async def test_given_lro_answered_on_the_fallback_path_then_hangup_after(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, PARIS_115)
    doc = await service.phone.doc(
        f"{FALLBACK}?step=1", call.fields(DialCallStatus="completed", DialCallDuration="80")
    )
    assert doc.tags == ["Hangup"]


async def test_given_unknown_number_then_national_lro(service: Harness) -> None:
    call = InboundCall(service.phone, "+33353019876")
    doc = await service.phone.doc(FALLBACK, failed_request(call))
    assert doc.dialled() == [PARIS_LRO[1]]


async def test_given_assistance_open_then_fallback_rings_national_support_then_urgent_email(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    doc = await service.phone.doc(FALLBACK, failed_request(call))
    assert doc.said() == ["Nous vous mettons en relation avec le support national SI SIAO."]
    assert doc.dialled() == list(NATIONAL_SUPPORT)
    after = await service.phone.doc(
        doc.only("Dial").attrs["action"], call.fields(DialCallStatus="no-answer")
    )
    assert after.tags == ["Say", "Hangup"]
    assert after.said()[0].startswith("Aucun conseiller n'est disponible pour le moment.")


async def test_given_assistance_closed_then_fallback_gives_the_urgent_email(flow: CallFlow) -> None:
    async with running(flow, now=SUNDAY_NIGHT) as service:
        call = InboundCall(service.phone, ASSISTANCE)
        doc = await service.phone.doc(FALLBACK, failed_request(call))
        assert doc.tags == ["Say", "Hangup"]


async def test_given_unsigned_fallback_then_403(service: Harness) -> None:
    call = InboundCall(service.phone, PARIS_115)
    response = await service.phone.post(FALLBACK, failed_request(call), signature=None)
    assert response.status_code == 403


async def test_given_live_call_sent_to_fallback_then_runtime_releases_it(
    service: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    first = await call.start()
    with caplog.at_level(logging.ERROR, logger="ivr.transports.laml"):
        await service.phone.doc(FALLBACK, failed_request(call))
    await service.settle()
    assert service.runtime.state(call.sid) is None
    assert (
        f"call {call.sid} handed to the provider fallback (ErrorCode=11200, "
        f"ErrorUrl={PUBLIC_BASE_URL}/laml/gather?s=1)" in caplog.messages
    )
    assert (await call.press(first, "75")).tags == ["Hangup"]


async def test_given_runtime_slower_than_the_budget_then_fallback_document_in_time(
    flow: CallFlow, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(flow, webhook_budget_s=0.05) as service:
        real = service.live.queue_status

        async def slow(*args: Any) -> QueueStatus:
            await asyncio.sleep(0.3)  # a shared state that stalls
            return await real(*args)

        monkeypatch.setattr(service.live, "queue_status", slow)
        call = InboundCall(service.phone, PARIS_115)
        doc = await call.start()
        assert doc.dialled() == list(PARIS_LISTENERS), "the fallback plan"
        await asyncio.sleep(0.35)
        await service.settle()
        assert service.runtime.state(call.sid) is None
        assert service.records.calls[0][0].outcome is Outcome.CALLER_HUNG_UP


async def test_given_unexpected_failure_in_a_caller_webhook_then_fallback_not_500(
    service: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    call = InboundCall(service.phone, PARIS_115)
    first = await service.phone.doc(f"{PUBLIC_BASE_URL}/laml/voice", call.fields())

    async def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(service.runtime, "handle", broken)
    response = await service.phone.post(
        first.only("Dial").attrs["action"], call.fields(DialCallStatus="busy")
    )
    assert response.status_code == 200
    assert Doc.parse(response.content).dialled() == list(PARIS_LISTENERS), "the fallback plan"


async def test_given_commands_for_a_caller_outside_the_queue_then_rest_redirect_renders_them(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    await call.start()
    goodbye = prompts.fixed("goodbye")
    await service.transport.deliver(call.sid, [Play(goodbye), Hangup(Outcome.MESSAGE)])
    await service.settle()
    [(sid, url)] = service.provider.redirected
    assert (sid, url) == (call.sid, f"{PUBLIC_BASE_URL}/laml/resume?s=1")
    doc = await service.phone.doc(url, call.fields())
    assert doc.said() == ["Au revoir."]
    assert doc.tags == ["Say", "Hangup"]


async def test_given_batch_without_waiting_command_then_fallback_never_silence(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, PARIS_115)
    await call.start()
    await service.transport.deliver(call.sid, [Play(prompts.fixed("goodbye"))])
    await service.settle()
    [(_, url)] = service.provider.redirected
    doc = await service.phone.doc(url, call.fields())
    assert doc.said() == [], "the listeners ring at once: ringback, not silence"
    assert doc.dialled() == list(PARIS_LISTENERS)


async def test_given_commands_for_an_unknown_call_then_dropped(service: Harness) -> None:
    await service.transport.deliver("CA-inconnu", [Hangup(Outcome.MESSAGE)])
    assert service.provider.redirected == []
