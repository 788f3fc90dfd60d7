"""The 115 through webhooks: LRO, deterrence, the queue, listeners reached on their phones."""

from __future__ import annotations

from typing import Any

import pytest

from ivr.flow import Phase
from ivr.flow.vocabulary import DialOutcome, Outcome, Role
from ivr.runtime.live_state import Presence
from ivr.transports.laml import OutboundCall, ProviderUnavailableError
from tests.laml.fakes import (
    CALLER,
    ENTRY_115,
    PARIS_115,
    PARIS_LISTENERS,
    PARIS_LRO,
    PUBLIC_BASE_URL,
    Doc,
    InboundCall,
    outbound_fields,
)
from tests.laml.harness import Harness

NO_LISTENER = "Aucun écoutant n'est disponible pour le moment. Votre appel va être transféré."
LRO_TRANSFER = "Nous transférons votre appel. Merci de patienter."
LRO_FAILED = (
    "Nous ne pouvons pas donner suite à votre appel pour le moment. Rappelez le 115 dans "
    "quelques minutes. En cas de danger immédiat, composez le 17 ou le 112. Au revoir."
)
WELCOME_115 = "Vous êtes en relation avec le 115, le numéro d'urgence pour les personnes sans abri."
RECORDING_NOTICE = (
    "Cet appel est susceptible d'être enregistré. Vous pouvez vous y opposer en le signalant à "
    "votre interlocuteur."
)
QUEUE_OFFER = "Pour être rappelé par un écoutant dès que possible, tapez 1."
CALLBACK_REGISTERED = (
    "Votre demande de rappel est enregistrée. Un écoutant vous rappellera depuis le numéro "
    "0 800 112 112. Gardez votre téléphone allumé. Au revoir."
)
QUEUE_SID = "QU" + "a" * 32


def summary(service: Harness, call: InboundCall) -> Any:
    [(finished, _, _)] = [c for c in service.records.calls if c[0].call_id == call.sid]
    return finished


async def queued_call(service: Harness, *listeners: str) -> tuple[InboundCall, Doc]:
    """A Paris 115 call in the queue, the given listeners logged in but busy."""
    await service.listeners("75", **dict.fromkeys(listeners or PARIS_LISTENERS[:1], Presence.BUSY))
    call = InboundCall(service.phone, PARIS_115)
    doc = await call.start()
    assert doc.tags == ["Enqueue"]
    return call, doc


async def offer_listener(service: Harness, number: str) -> tuple[str, OutboundCall]:
    """``number`` becomes available: the service places the call to the listener's phone."""
    before = len(service.provider.created)
    await service.listeners("75", **{number: Presence.AVAILABLE})
    await service.settle()
    assert len(service.provider.created) == before + 1
    return service.provider.created[-1]


async def listener_status(service: Harness, leg: OutboundCall, sid: str, status: str) -> None:
    response = await service.phone.post(
        leg.status_callback, outbound_fields(leg, sid, status, CallDuration="0")
    )
    assert response.status_code == 200, response.text
    await service.settle()


# --------------------------------------------------------------------------- LRO


async def test_given_no_listener_logged_in_then_the_call_ends_on_the_lro_through_webhooks(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, PARIS_115)
    doc = await call.start()
    assert doc.tags == ["Say", "Say", "Dial"]
    assert doc.said() == [NO_LISTENER, LRO_TRANSFER]
    assert doc.only("Dial").attrs["timeout"] == "30"
    assert doc.dialled() == [PARIS_LRO[0]]  # Paris's own on-call number first
    doc = await call.dial_ends(doc, "no-answer")
    assert doc.tags == ["Dial"]
    assert doc.dialled() == [PARIS_LRO[1]]  # then the national overflow centre
    doc = await call.dial_ends(doc, "busy")
    assert doc.dialled() == [PARIS_LRO[2]]
    doc = await call.dial_ends(doc, "completed", answered_by=PARIS_LRO[2], duration=200)
    assert doc.tags == ["Hangup"]
    finished = summary(service, call)
    assert finished.lro_used
    assert finished.outcome is Outcome.CONNECTED
    assert finished.connected_to == PARIS_LRO[2]
    assert finished.connected_role is Role.LRO
    assert service.provider.created == []  # webhooks alone, no REST call


async def test_given_every_lro_number_fails_then_explicit_message_and_hangup(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, PARIS_115)
    doc = await call.start()
    for _ in PARIS_LRO:
        doc = await call.dial_ends(doc, "failed")
    assert doc.tags == ["Say", "Hangup"]
    assert doc.said() == [LRO_FAILED]
    finished = summary(service, call)
    assert finished.outcome is Outcome.MESSAGE
    assert [a.result for a in finished.attempts] == [DialOutcome.FAILED] * 3


async def test_given_national_entry_then_departement_is_asked_and_75_routes_to_paris(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ENTRY_115)
    doc = await call.start()
    assert doc.said()[0] == WELCOME_115
    assert doc.only("Gather").attrs["numDigits"] == "2"
    doc = await call.press(doc, "75")
    assert doc.dialled() == [PARIS_LRO[0]]


async def test_given_national_entry_and_no_answer_to_the_menu_then_national_lro(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ENTRY_115)
    doc = await call.start()
    for _ in range(3):
        doc = await call.stay_silent(doc)
    assert doc.said() == [LRO_TRANSFER]
    assert doc.dialled() == [PARIS_LRO[1]]  # the national chain


@pytest.mark.parametrize(
    ("closed", "emergency", "message", "trigger"),
    [
        (
            True,
            False,
            "La plateforme du 115 Paris est fermée pour le moment. Votre appel va être transféré.",
            "closure",
        ),
        (
            False,
            True,
            "La plateforme du 115 Paris est exceptionnellement fermée. Votre appel va être "
            "transféré.",
            "emergency_closure",
        ),
    ],
)
async def test_given_platform_closed_then_closure_message_and_lro(
    service: Harness, closed: bool, emergency: bool, message: str, trigger: str
) -> None:
    await service.live.set_platform("75", closed=closed, emergency_closed=emergency)
    call = InboundCall(service.phone, PARIS_115)
    doc = await call.start()
    assert doc.said() == [message, LRO_TRANSFER]
    assert doc.dialled() == [PARIS_LRO[0]]
    state = service.runtime.state(call.sid)
    assert state is not None
    assert state.summary.deterrence == trigger


# --------------------------------------------------------------------------- saturation


async def saturate_paris(service: Harness) -> None:
    await service.listeners("75", **{PARIS_LISTENERS[0]: Presence.BUSY})
    for index in range(120):  # Paris stops queuing at 120 waiting calls
        await service.live.enqueue("75", f"waiting-{index}", 0, service.clock())


async def test_given_saturation_then_deterrence_and_call_back_on_1(service: Harness) -> None:
    await saturate_paris(service)
    call = InboundCall(service.phone, PARIS_115)
    doc = await call.start()
    assert doc.tags == ["Say", "Gather", "Redirect"]
    assert doc.said() == [
        "Toutes les lignes du 115 Paris sont saturées et l'attente serait très longue.",
        "Pour être rappelé par un écoutant, tapez 1.",
    ]
    assert doc.only("Gather").attrs["timeout"] == "8"
    doc = await call.press(doc, "1")
    assert doc.said() == [CALLBACK_REGISTERED]
    assert doc.tags == ["Say", "Hangup"]
    [(departement, number, call_id, _)] = service.callbacks.requests
    assert (departement, number, call_id) == ("75", CALLER, call.sid)
    assert summary(service, call).outcome is Outcome.CALLBACK


async def test_given_saturation_and_silence_then_goodbye_message(service: Harness) -> None:
    await saturate_paris(service)
    call = InboundCall(service.phone, PARIS_115)
    doc = await call.stay_silent(await call.start())
    assert doc.said() == [
        "Merci de rappeler un peu plus tard. En cas de danger immédiat, composez le 17 ou le "
        "112. Au revoir."
    ]
    assert summary(service, call).outcome is Outcome.MESSAGE


async def test_given_withheld_number_then_no_call_back_is_offered(service: Harness) -> None:
    await saturate_paris(service)
    call = InboundCall(service.phone, PARIS_115, from_="+266696687")  # Twilio's "anonymous"
    doc = await call.start()
    assert doc.tags == ["Say", "Say", "Hangup"]


# --------------------------------------------------------------------------- the queue


async def test_given_listeners_busy_then_caller_waits_in_own_queue_hearing_position_and_offer(
    service: Harness,
) -> None:
    call, doc = await queued_call(service)
    enqueue = doc.only("Enqueue")
    assert enqueue.text == f"ivr-{call.sid}"
    assert enqueue.attrs == {
        "waitUrl": f"{PUBLIC_BASE_URL}/laml/wait",
        "waitUrlMethod": "POST",
        "action": f"{PUBLIC_BASE_URL}/laml/queue?s=1",
        "method": "POST",
    }
    wait = await call.wait(doc)
    # The welcome and the recording notice are heard in full; the announcement is
    # interruptible, so that 1 works during the offer.
    assert wait.tags == ["Say", "Say", "Gather"]
    assert wait.said() == [WELCOME_115, RECORDING_NOTICE, "Vous êtes en position 1.", QUEUE_OFFER]
    gather = wait.only("Gather")
    assert gather.attrs["numDigits"] == "1"
    assert gather.attrs["action"] == f"{PUBLIC_BASE_URL}/laml/wait/digits"
    assert [c.tag for c in gather.children] == ["Say", "Say", "Pause"]
    again = await call.wait(doc)
    assert again.tags == ["Gather"]
    assert [c.tag for c in again.only("Gather").children] == ["Pause"]


async def test_given_listener_frees_up_then_rest_call_to_the_listener_bridges_the_caller(
    service: Harness,
) -> None:
    call, doc = await queued_call(service)
    await call.wait(doc)
    sid, leg = await offer_listener(service, PARIS_LISTENERS[0])
    assert leg.to == PARIS_LISTENERS[0]
    assert leg.from_ == PARIS_115  # the listener sees the 115 number the caller dialled
    assert leg.timeout_s == 20
    assert leg.url.startswith(f"{PUBLIC_BASE_URL}/laml/listener/answer?call={call.sid}&leg=")
    assert leg.status_events == ("initiated", "ringing", "answered", "completed")
    wait = await call.wait(doc)
    assert wait.said() == ["Un écoutant va vous répondre."]

    answer = await service.phone.doc(leg.url, outbound_fields(leg, sid, "in-progress"))
    dial = answer.only("Dial")
    assert dial.child("Queue").text == f"ivr-{call.sid}"
    assert dial.attrs["record"] == "record-from-answer-dual"  # Paris records all calls
    assert dial.attrs["recordingStatusCallback"] == (
        f"{PUBLIC_BASE_URL}/laml/recording?call={call.sid}"
    )
    state = service.runtime.state(call.sid)
    assert state is not None
    assert state.phase is Phase.CONNECTED

    end = await call.leave_queue(doc, "bridged")  # once both have left the bridge
    assert end.tags == ["Hangup"]
    finished = summary(service, call)
    assert finished.outcome is Outcome.CONNECTED
    assert finished.connected_to == PARIS_LISTENERS[0]
    assert finished.connected_role is Role.LISTENER
    await service.settle()
    assert service.provider.deleted_queues == [QUEUE_SID]  # queues persist on Twilio
    [listener] = await service.live.listeners("75")
    assert listener.presence is Presence.AVAILABLE


async def test_given_listener_leg_ends_before_the_caller_action_then_caller_still_hangs_up(
    service: Harness,
) -> None:
    call, doc = await queued_call(service)
    sid, leg = await offer_listener(service, PARIS_LISTENERS[0])
    await service.phone.doc(leg.url, outbound_fields(leg, sid, "in-progress"))
    await listener_status(service, leg, sid, "completed")  # the listener hung up first
    assert summary(service, call).outcome is Outcome.CONNECTED
    end = await call.leave_queue(doc, "bridged")
    assert end.tags == ["Hangup"]


async def test_given_caller_action_before_listener_leg_status_then_late_status_is_harmless(
    service: Harness,
) -> None:
    call, doc = await queued_call(service)
    sid, leg = await offer_listener(service, PARIS_LISTENERS[0])
    await service.phone.doc(leg.url, outbound_fields(leg, sid, "in-progress"))
    end = await call.leave_queue(doc, "bridged")
    assert end.tags == ["Hangup"]
    await listener_status(service, leg, sid, "completed")
    await call.hang_up()
    assert len([c for c in service.records.calls if c[0].call_id == call.sid]) == 1


async def test_given_listener_answer_posted_twice_then_same_document_and_one_answer(
    service: Harness,
) -> None:
    call, _ = await queued_call(service)
    sid, leg = await offer_listener(service, PARIS_LISTENERS[0])
    first = await service.phone.doc(leg.url, outbound_fields(leg, sid, "in-progress"))
    second = await service.phone.doc(leg.url, outbound_fields(leg, sid, "in-progress"))
    assert second.raw == first.raw
    state = service.runtime.state(call.sid)
    assert state is not None
    assert len(state.summary.attempts) == 1


async def test_given_listener_does_not_answer_then_caller_stays_queued_first_and_listener_paused(
    service: Harness,
) -> None:
    call, doc = await queued_call(service, PARIS_LISTENERS[0], PARIS_LISTENERS[1])
    sid, leg = await offer_listener(service, PARIS_LISTENERS[0])
    await listener_status(service, leg, sid, "ringing")
    await listener_status(service, leg, sid, "no-answer")
    state = service.runtime.state(call.sid)
    assert state is not None
    assert state.phase is Phase.QUEUED
    assert await service.live.waiting_calls("75") == [call.sid]
    presence = {lst.number: lst.presence for lst in await service.live.listeners("75")}
    assert presence[PARIS_LISTENERS[0]] is Presence.PAUSED
    wait = await call.wait(doc)
    assert "Leave" not in wait.tags  # the caller never noticed
    await listener_status(service, leg, sid, "ringing")  # late and out of order: ignored
    _, second = await offer_listener(service, PARIS_LISTENERS[1])
    assert second.to == PARIS_LISTENERS[1]


async def test_given_provider_refuses_the_listener_call_then_caller_requeued(
    service: Harness,
) -> None:
    call, _ = await queued_call(service)
    service.provider.fail_create = ProviderUnavailableError("provider error 503")
    await service.listeners("75", **{PARIS_LISTENERS[0]: Presence.AVAILABLE})
    await service.settle()
    state = service.runtime.state(call.sid)
    assert state is not None
    assert state.phase is Phase.QUEUED
    assert state.summary.attempts[-1].result is DialOutcome.FAILED
    assert await service.live.waiting_calls("75") == [call.sid]


async def test_given_caller_hangs_up_while_listener_rings_then_leg_cancelled_and_listener_freed(
    service: Harness,
) -> None:
    call, doc = await queued_call(service)
    await call.wait(doc)
    sid, leg = await offer_listener(service, PARIS_LISTENERS[0])
    await call.hang_up()
    await service.settle()
    assert service.provider.ended == [(sid, False)]
    [listener] = await service.live.listeners("75")
    assert listener.presence is Presence.AVAILABLE  # not left busy for a call that is gone
    late = await service.phone.doc(leg.url, outbound_fields(leg, sid, "in-progress"))
    assert late.said() == ["Cet appel n'est plus en attente. Merci."]
    assert late.tags == ["Say", "Hangup"]


async def test_given_maximum_wait_reached_then_caller_leaves_queue_for_the_lro(
    service: Harness,
) -> None:
    call, doc = await queued_call(service)
    await call.wait(doc)
    await service.timers.fire(call.sid, "max_wait")
    assert (await call.wait(doc)).tags == ["Leave"]
    after = await call.leave_queue(doc, "leave")
    assert after.said() == [
        "Votre attente a dépassé la durée maximale. Votre appel va être transféré.",
        LRO_TRANSFER,
    ]
    assert after.dialled() == [PARIS_LRO[0]]
    assert await service.live.waiting_calls("75") == []


async def test_given_announcement_timer_then_next_wait_announces_the_new_position(
    service: Harness,
) -> None:
    call, doc = await queued_call(service)
    await call.wait(doc)
    await service.timers.fire(call.sid, "announce")
    wait = await call.wait(doc)
    assert wait.said() == ["Vous êtes en position 1.", QUEUE_OFFER]
    assert ("announce" in {name for _, name in service.timers.armed}) is True


async def test_given_1_pressed_while_waiting_then_call_back_registered_and_goodbye(
    service: Harness,
) -> None:
    call, doc = await queued_call(service)
    wait = await call.wait(doc)
    assert (await call.press_while_waiting(wait, "1")).tags == ["Leave"]
    after = await call.leave_queue(doc, "leave")
    assert after.said() == [CALLBACK_REGISTERED]
    assert after.tags == ["Say", "Hangup"]
    assert await service.live.waiting_calls("75") == []
    assert [r[1] for r in service.callbacks.requests] == [CALLER]


async def test_given_other_key_pressed_while_waiting_then_caller_keeps_waiting(
    service: Harness,
) -> None:
    call, doc = await queued_call(service)
    wait = await call.wait(doc)
    back = await call.press_while_waiting(wait, "5")
    assert back.tags == ["Redirect"]
    assert back.verbs[0].text == f"{PUBLIC_BASE_URL}/laml/wait"
    assert await service.live.waiting_calls("75") == [call.sid]


async def test_given_caller_hangs_up_while_waiting_then_dequeued_and_queue_deleted(
    service: Harness,
) -> None:
    call, doc = await queued_call(service)
    await call.wait(doc)
    await call.hang_up(duration=95)
    await service.settle()
    assert await service.live.waiting_calls("75") == []
    assert summary(service, call).outcome is Outcome.CALLER_HUNG_UP
    assert service.provider.deleted_queues == [QUEUE_SID]
    assert (await call.wait(doc)).tags == ["Hangup"]


async def test_given_queue_full_at_the_provider_then_fallback_lro(service: Harness) -> None:
    call, doc = await queued_call(service)
    after = await call.leave_queue(doc, "queue-full")
    # The fallback plan: the listeners together, then the LRO chain.
    assert after.dialled() == list(PARIS_LISTENERS)
    await service.settle()
    assert service.runtime.state(call.sid) is None  # released by the runtime
