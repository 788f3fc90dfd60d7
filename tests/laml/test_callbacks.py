"""Status and recording callbacks, duplicated and out of order; listeners' call-backs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ivr.flow.vocabulary import Outcome
from ivr.runtime.live_state import Presence
from ivr.transports.laml import Leg, ProviderRejectedError
from tests.laml.fakes import (
    ACCOUNT_SID,
    ASSISTANCE,
    PARIS_115,
    PARIS_LISTENERS,
    PUBLIC_BASE_URL,
    InboundCall,
    outbound_fields,
)
from tests.laml.harness import Harness

RECORDING = f"{PUBLIC_BASE_URL}/laml/recording"
PERSON = "+33687654321"


def recording_fields(call_sid: str, status: str, **extra: str) -> dict[str, str]:
    fields = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call_sid,
        "RecordingSid": "RE" + "4" * 32,
        "RecordingStatus": status,
        "RecordingChannels": "2",
        "RecordingSource": "DialVerb",
        "RecordingStartTime": "Mon, 10 Mar 2025 09:02:11 +0000",
        "RecordingTrack": "both",
    }
    if status == "completed":
        fields["RecordingUrl"] = (
            f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{'4' * 32}"
        )
        fields["RecordingDuration"] = "312"
    fields.update(extra)
    return fields


async def test_given_status_callbacks_in_order_then_each_reaches_the_call_record_sink(
    service: Harness,
) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    await call.start()
    await call.status_callback("in-progress")
    await call.hang_up(duration=42)
    await service.settle()
    assert [(u.leg, u.status, u.duration_s) for u in service.events.statuses] == [
        (Leg.CALLER, "in-progress", 0),
        (Leg.CALLER, "completed", 42),
    ]
    assert service.events.statuses[-1].call_id == call.sid


async def test_given_duplicate_and_late_status_callbacks_then_ignored(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    await call.start()
    await call.hang_up(duration=42)
    await call.hang_up(duration=42)  # the same callback again
    late = await call.status_callback("ringing")  # an earlier event, delivered last
    assert late.status_code == 200
    await service.settle()
    assert [u.status for u in service.events.statuses] == ["completed"]
    assert len(service.records.calls) == 1
    assert service.records.calls[0][0].outcome is Outcome.CALLER_HUNG_UP


async def test_given_status_for_an_unknown_call_then_404(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    response = await call.status_callback("completed")
    assert response.status_code == 404
    assert response.text == f"Appel inconnu : {call.sid}"


async def test_given_status_without_call_status_then_400(service: Harness) -> None:
    call = InboundCall(service.phone, ASSISTANCE)
    await call.start()
    fields = call.fields()
    del fields["CallStatus"]
    response = await service.phone.post(f"{PUBLIC_BASE_URL}/laml/status", fields)
    assert response.status_code == 400
    assert response.text == "Champ manquant : CallStatus"


async def test_given_recording_callbacks_then_metadata_kept_once_per_status(
    service: Harness,
) -> None:
    url = f"{RECORDING}?call=CA1"
    for status in ("in-progress", "completed", "completed", "in-progress"):
        response = await service.phone.post(url, recording_fields("CA2", status))
        assert response.status_code == 200
    await service.settle()
    assert [r.status for r in service.events.recordings] == ["in-progress", "completed"]
    done = service.events.recordings[-1]
    assert done.call_id == "CA1"  # the caller's call, whichever leg was recorded
    assert done.url is not None
    assert done.url.endswith("/Recordings/RE" + "4" * 32)
    assert (done.duration_s, done.channels) == (312, 2)
    assert done.started_at == datetime(2025, 3, 10, 9, 2, 11, tzinfo=UTC)


async def test_given_recording_completed_before_in_progress_then_the_late_one_is_ignored(
    service: Harness,
) -> None:
    url = f"{RECORDING}?call=CA1"
    await service.phone.post(url, recording_fields("CA2", "completed"))
    await service.phone.post(url, recording_fields("CA2", "in-progress"))
    await service.settle()
    assert [r.status for r in service.events.recordings] == ["completed"]


async def test_given_recording_absent_then_reported_without_url(service: Harness) -> None:
    await service.phone.post(f"{RECORDING}?call=CA1", recording_fields("CA2", "absent"))
    await service.settle()
    [update] = service.events.recordings
    assert (update.status, update.url) == ("absent", None)


async def test_given_recording_without_its_sid_then_400(service: Harness) -> None:
    fields = recording_fields("CA2", "completed")
    del fields["RecordingSid"]
    response = await service.phone.post(f"{RECORDING}?call=CA1", fields)
    assert response.status_code == 400
    assert response.text == "Champ manquant : RecordingSid"


async def test_given_unsigned_recording_callback_then_403_and_nothing_kept(
    service: Harness,
) -> None:
    response = await service.phone.post(
        f"{RECORDING}?call=CA1", recording_fields("CA2", "completed"), signature=None
    )
    assert response.status_code == 403
    await service.settle()
    assert service.events.recordings == []


async def test_given_listener_leg_statuses_then_reported_for_the_callers_call(
    service: Harness,
) -> None:
    await service.listeners("75", **{PARIS_LISTENERS[0]: Presence.BUSY})
    call = InboundCall(service.phone, PARIS_115)
    await call.start()
    await service.listeners("75", **{PARIS_LISTENERS[0]: Presence.AVAILABLE})
    await service.settle()
    [(sid, leg)] = service.provider.created
    await service.phone.post(leg.status_callback, outbound_fields(leg, sid, "ringing"))
    await service.settle()
    [update] = [u for u in service.events.statuses if u.leg is Leg.LISTENER]
    assert (update.call_id, update.provider_sid, update.status) == (call.sid, sid, "ringing")


# --------------------------------------------------------------------------- call-backs


async def test_given_listener_calls_back_then_listener_rung_first_and_person_sees_0800112112(
    service: Harness,
) -> None:
    callback_id = await service.transport.place_callback("75", PARIS_LISTENERS[0], PERSON)
    [(sid, leg)] = service.provider.created
    assert (leg.to, leg.from_) == (PARIS_LISTENERS[0], PARIS_115)
    doc = await service.phone.doc(leg.url, outbound_fields(leg, sid, "in-progress"))
    assert doc.said() == ["Rappel en cours. Ne raccrochez pas."]
    dial = doc.only("Dial")
    assert dial.attrs["callerId"] == "+33800112112"
    assert doc.dialled() == [PERSON]
    result = await service.phone.doc(
        dial.attrs["action"], outbound_fields(leg, sid, "in-progress", DialCallStatus="completed")
    )
    assert result.tags == ["Hangup"]
    await service.settle()
    assert [(u.callback_id, u.status) for u in service.events.callbacks] == [
        (callback_id, "placed"),
        (callback_id, "connected"),
    ]


async def test_given_person_busy_then_listener_told_in_french(service: Harness) -> None:
    await service.transport.place_callback("75", PARIS_LISTENERS[0], PERSON)
    [(sid, leg)] = service.provider.created
    doc = await service.phone.doc(leg.url, outbound_fields(leg, sid, "in-progress"))
    result = await service.phone.doc(
        doc.only("Dial").attrs["action"],
        outbound_fields(leg, sid, "in-progress", DialCallStatus="busy"),
    )
    assert result.said() == ["Le rappel n'a pas abouti : la ligne est occupée."]
    await service.settle()
    assert service.events.callbacks[-1].status == "busy"


async def test_given_listener_does_not_pick_up_the_call_back_then_reported_unreachable(
    service: Harness,
) -> None:
    await service.transport.place_callback("75", PARIS_LISTENERS[0], PERSON)
    [(sid, leg)] = service.provider.created
    await service.phone.post(leg.status_callback, outbound_fields(leg, sid, "no-answer"))
    await service.phone.post(leg.status_callback, outbound_fields(leg, sid, "no-answer"))
    await service.settle()
    assert [u.status for u in service.events.callbacks] == ["placed", "listener-unreachable"]
    assert [u.leg for u in service.events.statuses] == [Leg.CALLBACK]


async def test_given_provider_refuses_the_call_back_then_error_raised_and_reported(
    service: Harness,
) -> None:
    service.provider.fail_create = ProviderRejectedError(400, 21211, "invalid number")
    with pytest.raises(ProviderRejectedError):
        await service.transport.place_callback("75", PARIS_LISTENERS[0], PERSON)
    await service.settle()
    assert [u.status for u in service.events.callbacks] == ["listener-unreachable"]


async def test_given_unknown_call_back_then_404(service: Harness) -> None:
    response = await service.phone.post(
        f"{PUBLIC_BASE_URL}/laml/callback/answer?cb=inconnu",
        {"AccountSid": ACCOUNT_SID, "CallSid": "CA1"},
    )
    assert response.status_code == 404
    assert response.text == "Rappel inconnu : inconnu"
