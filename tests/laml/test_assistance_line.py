"""The SI SIAO assistance line (0 806 000 156) through webhooks, branch by branch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ivr.flow import CallFlow, build_flow
from ivr.flow.vocabulary import DialOutcome, Outcome, Role
from routing.config import HuntStrategy, RecordingPolicy, RoutingConfig
from tests.laml.fakes import (
    ASSISTANCE,
    CALLER,
    NATIONAL_SUPPORT,
    PARIS_REFERENTS,
    PUBLIC_BASE_URL,
    Doc,
    InboundCall,
)
from tests.laml.harness import PARIS, SUNDAY_NIGHT, Harness, running

ASK_DEPARTEMENT = (
    "Tapez les deux chiffres de votre département. Pour la Corse, tapez 2 0. "
    "Pour l'outre-mer, tapez 9 7."
)
URGENT = (
    "Aucun conseiller n'est disponible pour le moment. Pour une demande urgente, écrivez à "
    "support-urgent-sisiao arobase example point org, en précisant votre département et votre "
    "numéro de téléphone. Nous vous répondrons au plus vite."
)


def with_assistance(config: RoutingConfig, **changes: Any) -> CallFlow:
    national = config.national
    assistance = national.assistance.model_copy(update=changes)
    return build_flow(
        config.model_copy(
            update={"national": national.model_copy(update={"assistance": assistance})}
        )
    )


def with_paris_strategy(config: RoutingConfig, strategy: HuntStrategy) -> CallFlow:
    paris = config.departements["75"]
    assistance = paris.assistance.model_copy(update={"strategy": strategy})
    departements = dict(config.departements)
    departements["75"] = paris.model_copy(update={"assistance": assistance})
    return build_flow(config.model_copy(update={"departements": departements}))


def summary(service: Harness, call: InboundCall) -> Any:
    [(finished, _, _)] = [c for c in service.records.calls if c[0].call_id == call.sid]
    return finished


async def test_given_signed_call_to_assistance_number_then_document_asks_the_departement(
    service: Harness,
) -> None:
    doc = await InboundCall(service.phone, ASSISTANCE).start()
    # The welcome plays inside the <Gather>: keys typed during it count for the menu.
    assert doc.tags == ["Gather", "Redirect"]
    gather = doc.only("Gather")
    assert gather.attrs == {
        "input": "dtmf",
        "numDigits": "2",
        "timeout": "6",
        "finishOnKey": "#",
        "action": f"{PUBLIC_BASE_URL}/laml/gather?s=1",
        "method": "POST",
    }
    assert [c.tag for c in gather.children] == ["Say", "Say"]
    assert gather.children[0].text == "Bienvenue sur la ligne d'assistance SI SIAO."
    assert gather.children[1].text == ASK_DEPARTEMENT
    assert doc.verbs[1].attrs == {"method": "POST"}
    assert doc.verbs[1].text == f"{PUBLIC_BASE_URL}/laml/no-input?s=1"


async def test_given_75_then_reason_menu_then_dial_to_paris_tier1_referent(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    menu = await call.press(await call.start(), "75")
    reason = menu.only("Gather")
    assert reason.attrs["numDigits"] == "1"
    assert reason.child("Say").text.startswith("Précisez le motif de votre appel.")
    doc = await call.press(menu, "1")  # "problème de connexion", level 1
    assert doc.tags == ["Say", "Dial"]
    assert doc.said() == [
        "Nous vous mettons en relation avec un référent SI SIAO de votre département."
    ]
    dial = doc.only("Dial")
    assert dial.attrs == {
        "timeout": "20",
        "action": f"{PUBLIC_BASE_URL}/laml/dial?s=3",
        "method": "POST",
    }  # no callerId: the referent sees the caller's own number
    assert doc.dialled() == [PARIS_REFERENTS[0]]
    number = dial.child("Number")
    assert number.attrs["url"] == (
        f"{PUBLIC_BASE_URL}/laml/dial/answered?call={call.sid}&s=3&n=%2B33199000750"
    )


async def test_given_no_reason_menu_then_posting_75_returns_dial_to_paris_referent(
    routing_config: RoutingConfig,
) -> None:
    async with running(with_assistance(routing_config, reason_menu=False)) as service:
        call = InboundCall(service.phone, ASSISTANCE)
        doc = await call.press(await call.start(), "75")
        assert doc.tags == ["Say", "Dial"]
        assert doc.dialled() == [PARIS_REFERENTS[0]]


async def test_given_referent_answers_then_bridge_ends_in_hangup_and_call_is_connected(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    doc = await call.press(await call.press(await call.start(), "75"), "1")
    end = await call.dial_ends(doc, "completed", answered_by=PARIS_REFERENTS[0], duration=354)
    assert end.tags == ["Hangup"]
    finished = summary(service, call)
    assert finished.outcome is Outcome.CONNECTED
    assert finished.connected_to == PARIS_REFERENTS[0]
    assert finished.connected_role is Role.TIER1
    assert finished.reason == "connexion"
    assert finished.caller == CALLER
    assert service.transport.has_ended(call.sid)
    assert call.sid not in service.transport.sessions


async def test_given_last_answerer_then_next_call_rings_the_following_referent(
    service: Harness,
) -> None:
    first = InboundCall(service.phone, ASSISTANCE)
    doc = await first.press(await first.press(await first.start(), "75"), "2")
    await first.dial_ends(doc, "completed", answered_by=PARIS_REFERENTS[0])
    second = InboundCall(service.phone, ASSISTANCE, from_="+33798765432")
    doc = await second.press(await second.press(await second.start(), "75"), "2")
    assert doc.dialled() == [PARIS_REFERENTS[1]]


async def test_given_every_referent_and_national_support_unreachable_then_urgent_email(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    doc = await call.press(await call.press(await call.start(), "75"), "3")
    assert doc.dialled() == [PARIS_REFERENTS[0]]
    doc = await call.dial_ends(doc, "busy")
    assert doc.tags == ["Dial"]
    assert doc.dialled() == [PARIS_REFERENTS[1]]
    doc = await call.dial_ends(doc, "no-answer")
    assert doc.dialled() == [PARIS_REFERENTS[2]]
    doc = await call.dial_ends(doc, "failed")
    assert doc.said() == [
        "Aucun référent de votre département n'est disponible.",
        "Nous vous mettons en relation avec le support national SI SIAO.",
    ]
    assert doc.dialled() == [NATIONAL_SUPPORT[0]]
    assert doc.only("Dial").attrs["timeout"] == "25"
    doc = await call.dial_ends(doc, "no-answer")
    assert doc.dialled() == [NATIONAL_SUPPORT[1]]
    doc = await call.dial_ends(doc, "no-answer")
    assert doc.tags == ["Say", "Hangup"]
    assert doc.said() == [URGENT]
    finished = summary(service, call)
    assert finished.outcome is Outcome.MESSAGE
    assert [(a.number, a.result) for a in finished.attempts] == [
        (PARIS_REFERENTS[0], DialOutcome.BUSY),
        (PARIS_REFERENTS[1], DialOutcome.NO_ANSWER),
        (PARIS_REFERENTS[2], DialOutcome.FAILED),
        (NATIONAL_SUPPORT[0], DialOutcome.NO_ANSWER),
        (NATIONAL_SUPPORT[1], DialOutcome.NO_ANSWER),
    ]


async def test_given_level_2_reason_then_national_support_is_dialled_directly(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    doc = await call.press(await call.press(await call.start(), "75"), "4")  # RGPD, level 2
    assert doc.said() == ["Nous vous mettons en relation avec le support national SI SIAO."]
    assert doc.dialled() == [NATIONAL_SUPPORT[0]]


async def test_given_20_then_corse_submenu_and_1_is_corse_du_sud(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    doc = await call.press(await call.start(), "20")
    gather = doc.only("Gather")
    assert gather.attrs["numDigits"] == "1"
    assert gather.child("Say").text == (
        "Pour la Corse-du-Sud, tapez 1. Pour la Haute-Corse, tapez 2."
    )
    await call.press(doc, "1")
    state = service.runtime.state(call.sid)
    assert state is not None
    assert state.departement == "2A"


async def test_given_97_then_overseas_submenu_and_4_is_la_reunion(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    doc = await call.press(await call.start(), "97")
    assert (
        doc.only("Gather")
        .child("Say")
        .text.startswith("Tapez le troisième chiffre de votre département")
    )
    await call.press(doc, "4")
    state = service.runtime.state(call.sid)
    assert state is not None
    assert state.departement == "974"


async def test_given_invalid_code_then_told_and_asked_again(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    doc = await call.press(await call.start(), "00")
    assert doc.tags == ["Say", "Gather", "Redirect"]
    assert doc.said() == ["Ce numéro de département n'est pas reconnu.", ASK_DEPARTEMENT]
    assert doc.only("Gather").attrs["action"] == f"{PUBLIC_BASE_URL}/laml/gather?s=2"


async def test_given_silence_three_times_then_national_support(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    doc = await call.stay_silent(await call.start())
    assert doc.said() == ["Nous n'avons pas reçu votre choix.", ASK_DEPARTEMENT]
    doc = await call.stay_silent(doc)
    doc = await call.stay_silent(doc)
    assert doc.said() == [
        "Nous vous mettons en relation avec le support national.",
        "Nous vous mettons en relation avec le support national SI SIAO.",
    ]
    assert doc.dialled() == [NATIONAL_SUPPORT[0]]


async def test_given_only_hash_pressed_then_it_counts_as_no_input(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    doc = await call.press(await call.start(), "")
    assert doc.said()[0] == "Nous n'avons pas reçu votre choix."


async def test_given_closed_hours_then_closed_message_and_hangup(flow: CallFlow) -> None:
    async with running(flow, now=SUNDAY_NIGHT) as service:
        call = InboundCall(service.phone, ASSISTANCE)
        doc = await call.start()
        assert doc.tags == ["Say", "Say", "Hangup"]
        assert doc.said()[1].startswith("L'assistance SI SIAO est fermée.")
        assert summary(service, call).outcome is Outcome.MESSAGE


async def test_given_caller_hangs_up_in_the_menu_then_call_is_recorded_and_later_actions_hang_up(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    doc = await call.start()
    await call.hang_up(duration=4)
    assert summary(service, call).outcome is Outcome.CALLER_HUNG_UP
    late = await call.press(doc, "75")
    assert late.tags == ["Hangup"]


async def test_given_the_same_digits_posted_twice_then_same_document_and_flow_stepped_once(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    first = await call.start()
    once = await call.press(first, "75")
    twice = await call.press(first, "75")
    assert twice.raw == once.raw
    state = service.runtime.state(call.sid)
    assert state is not None
    assert state.summary.prompts == ["assistance_welcome", "ask_departement", "reason_menu"]


async def test_given_the_entry_webhook_posted_twice_then_same_document(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    first = await call.start()
    again = await service.phone.doc(f"{PUBLIC_BASE_URL}/laml/voice", call.fields())
    assert again.raw == first.raw
    assert len(service.runtime.calls) == 1


async def test_given_caller_hangs_up_during_the_conversation_then_still_connected(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    doc = await call.press(await call.press(await call.start(), "75"), "1")
    call.status = "completed"  # the caller left: the provider posts the action anyway
    await call.dial_ends(doc, "completed", answered_by=PARIS_REFERENTS[0], duration=120)
    assert summary(service, call).outcome is Outcome.CONNECTED


async def test_given_status_callback_before_dial_action_then_call_still_connected(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    doc = await call.press(await call.press(await call.start(), "75"), "1")
    dial = doc.only("Dial")
    whisper = dial.child("Number").attrs["url"]
    await service.phone.doc(
        whisper,
        {"AccountSid": call.account_sid, "CallSid": "CA" + "9" * 32, "ParentCallSid": call.sid},
    )
    await call.hang_up(duration=300)  # arrives first
    late = await call.dial_ends(doc, "completed")
    assert late.tags == ["Hangup"]
    finished = summary(service, call)
    assert finished.outcome is Outcome.CONNECTED
    assert finished.connected_to == PARIS_REFERENTS[0]


async def test_given_ring_all_then_whisper_tells_who_answered(
    routing_config: RoutingConfig,
) -> None:
    flow = with_paris_strategy(routing_config, HuntStrategy.RING_ALL)
    async with running(flow) as service:
        call = InboundCall(service.phone, ASSISTANCE)
        doc = await call.press(await call.press(await call.start(), "75"), "1")
        assert doc.dialled() == list(PARIS_REFERENTS)
        await call.dial_ends(doc, "completed", answered_by=PARIS_REFERENTS[2])
        finished = summary(service, call)
        assert finished.connected_to == PARIS_REFERENTS[2]
        assert (PARIS_REFERENTS[2], DialOutcome.ANSWERED) in [
            (a.number, a.result) for a in finished.attempts
        ]


async def test_given_recording_policy_all_then_dial_records_from_answer(
    routing_config: RoutingConfig,
) -> None:
    flow = with_assistance(routing_config, recording=RecordingPolicy.ALL)
    async with running(flow) as service:
        call = InboundCall(service.phone, ASSISTANCE)
        first = await call.start()
        assert first.said()[1].startswith("Cet appel est susceptible d'être enregistré.")
        doc = await call.press(await call.press(first, "75"), "1")
        dial = doc.only("Dial")
        assert dial.attrs["record"] == "record-from-answer-dual"
        assert dial.attrs["recordingStatusCallback"] == (
            f"{PUBLIC_BASE_URL}/laml/recording?call={call.sid}"
        )
        assert dial.attrs["recordingStatusCallbackEvent"] == "in-progress completed absent"


async def test_given_no_recording_policy_then_dial_does_not_record(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    doc = await call.press(await call.press(await call.start(), "75"), "1")
    assert "record" not in doc.only("Dial").attrs


def test_document_parser_sees_every_verb() -> None:
    raw = (
        b'<?xml version="1.0" encoding="UTF-8"?><Response><Say language="fr-FR">a</Say>'
        b"<Hangup /></Response>"
    )
    assert Doc.parse(raw).tags == ["Say", "Hangup"]


async def test_given_silence_at_the_reason_menu_then_tier1_without_a_reason(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    doc = await call.stay_silent(await call.press(await call.start(), "75"))
    assert doc.dialled() == [PARIS_REFERENTS[0]]
    state = service.runtime.state(call.sid)
    assert state is not None
    assert state.summary.reason is None


async def test_given_referents_off_duty_and_national_support_open_then_tier2(
    flow: CallFlow,
) -> None:
    friday_late = datetime(2025, 3, 14, 16, 15, tzinfo=PARIS)  # referents until 16:00
    async with running(flow, now=friday_late) as service:
        call = InboundCall(service.phone, ASSISTANCE)
        doc = await call.press(await call.press(await call.start(), "75"), "1")
        assert doc.said() == ["Nous vous mettons en relation avec le support national SI SIAO."]
        assert doc.dialled() == [NATIONAL_SUPPORT[0]]
