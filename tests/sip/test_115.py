"""The 115 over real SIP and RTP: no listener (LRO over the trunk), a listener's SIP phone
(bridged, recorded after the notice), a call-back presenting 0 800 112 112.

SIPp plays the operator's side (a caller's INVITE to the 115 Paris number 03 53 01 07 50
from 127.0.0.1:5071), the operator's far end on 5070 (where every trunk call goes: the LRO,
the person called back) and the listener's phone ecoutant-75-1 of deploy/asterisk/pjsip.conf
(registered with digest authentication, answering on 5090).
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import pytest

from tests.sip.lab import (
    LISTENER_PARIS,
    LISTENER_PORT,
    LRO_PARIS,
    OPERATOR_PORT,
    PARIS_115,
    Ari,
    LabAsterisk,
    Service,
    caller,
    envelope,
    header,
    register,
    sox_stat,
    tone_level_db,
    uas,
)
from tests.sip.rtp import RtpPeer

pytestmark = [pytest.mark.sip]

CALLER = "+33612345678"
CALLBACK_NUMBER = "+33800112112"  # 0 800 112 112, national.callback_number
CALLER_HZ = 500.0
OTHER_HZ = 1500.0
BANDS = ("400-600", "1400-1600")  # the caller's tone, the other party's


def loud_seconds(samples: list[int]) -> float:
    return sum(1 for v in envelope(samples) if v > 1000) * 0.02


def set_presence(service: Service, presence: str) -> None:
    service.post(
        "/lab/presence", {"departement": "75", "phone": LISTENER_PARIS, "presence": presence}
    )


def test_given_no_listener_when_115_called_then_lro_over_the_trunk_with_caller_number(
    lab: LabAsterisk, ari: Ari, service: Service, work: Path
) -> None:
    caller_rtp = RtpPeer(tone_hz=CALLER_HZ)
    lro_rtp = RtpPeer(tone_hz=OTHER_HZ)
    lro = uas("lro", work, OPERATOR_PORT, lro_rtp.port, hangup_after_ms=5000).start()
    call = caller("caller", work, lab, PARIS_115, CALLER, caller_rtp.port, 600_000).start()
    try:
        caller_rtp.wait_first_packet(timeout=20)
        caller_rtp.talk()
        lro_rtp.wait_first_packet(timeout=40)
        lro_rtp.talk()
        answered = time.monotonic()
        lro.wait_ended(timeout=30)
        assert call.wait(timeout=15) == 0, call.tail()
    finally:
        call.stop()
        lro.stop()
        caller_rtp.close()
        lro_rtp.close()
    (work / "caller-heard.wav").write_bytes(caller_rtp.wav_bytes())
    (work / "lro-heard.wav").write_bytes(lro_rtp.wav_bytes())
    [invite] = lro.received_requests("INVITE")
    assert invite.startswith(f"INVITE sip:{LRO_PARIS}@"), invite.splitlines()[0]
    assert CALLER in (header(invite, "From") or "")
    # The LRO heard the caller and the caller heard the LRO.
    lro_heard = lro_rtp.samples_between(answered, time.monotonic())
    caller_heard = caller_rtp.samples_between(answered, time.monotonic())
    assert loud_seconds(lro_heard) > 3
    assert loud_seconds(caller_heard) > 3
    # Each at the level the other sent: the Local leg of [ivr-outbound] runs in A-law
    # (it lost 6 dB each way in slin192 before it named the caller as its originator).
    assert tone_level_db(lro_heard, caller_rtp.amplitude) > -1.0
    assert tone_level_db(caller_heard, lro_rtp.amplitude) > -1.0


def test_given_listener_phone_available_when_115_called_then_bridged_and_recorded_after_notice(
    lab: LabAsterisk, ari: Ari, service: Service, work: Path
) -> None:
    register(work, lab, "ecoutant-75-1", LISTENER_PORT)
    caller_rtp = RtpPeer(tone_hz=CALLER_HZ)
    listener_rtp = RtpPeer(tone_hz=OTHER_HZ)
    listener = uas("listener", work, LISTENER_PORT, listener_rtp.port, 5000).start()
    ari.wait_online("ecoutant-75-1")
    set_presence(service, "available")
    before = ari.stored_recordings()
    call = caller("caller", work, lab, PARIS_115, CALLER, caller_rtp.port, 600_000).start()
    try:
        answered = caller_rtp.wait_first_packet(timeout=20)
        caller_rtp.talk()
        listener_rtp.wait_first_packet(timeout=40)
        bridged = time.monotonic()
        listener_rtp.talk()
        listener.wait_ended(timeout=30)
        assert call.wait(timeout=15) == 0, call.tail()
    finally:
        call.stop()
        listener.stop()
        caller_rtp.close()
        listener_rtp.close()
        set_presence(service, "offline")
    [invite] = listener.received_requests("INVITE")
    assert CALLER in (header(invite, "From") or "")
    # The notice played before the listener was rung: the caller heard speech first.
    notice = caller_rtp.samples_between(answered, bridged)
    assert loud_seconds(notice) > 2, "the caller heard no notice before the listener"
    [name] = sorted(ari.stored_recordings() - before)
    recording = work / "recording.wav"
    recording.write_bytes(ari.recording_file(name))
    assert sox_stat(recording, "sinc", "400-600")["RMS     amplitude"] > 0.02
    assert sox_stat(recording, "sinc", "1400-1600")["RMS     amplitude"] > 0.02
    levels = [sox_stat(recording, "sinc", band)["RMS     amplitude"] for band in BANDS]
    assert abs(20 * math.log10(levels[0] / levels[1])) < 1.0, "both recorded alike"
    # Recorded after the notice: the recording is the conversation, not the prompts.
    length = sox_stat(recording)["Length (seconds)"]
    assert 3.5 < length < 8, length


def test_given_callback_then_listener_rung_then_person_sees_0800112112_in_from_and_pai(
    lab: LabAsterisk, ari: Ari, service: Service, work: Path
) -> None:
    register(work, lab, "ecoutant-75-1", LISTENER_PORT)
    listener_rtp = RtpPeer(tone_hz=CALLER_HZ)
    person_rtp = RtpPeer(tone_hz=OTHER_HZ)
    listener = uas("listener", work, LISTENER_PORT, listener_rtp.port, 600_000).start()
    ari.wait_online("ecoutant-75-1")
    person = uas("person", work, OPERATOR_PORT, person_rtp.port, 4000).start()
    result: dict[str, object] = {}

    def place() -> None:
        result.update(
            service.post(
                "/lab/callback", {"listener": LISTENER_PARIS, "person": CALLER}, timeout=90
            )
        )

    placing = threading.Thread(target=place)
    placing.start()
    try:
        listener_rtp.talk()
        person_rtp.talk()
        person.wait_ended(timeout=60)
        listener.wait_ended(timeout=15)
        placing.join(timeout=30)
    finally:
        listener.stop()
        person.stop()
        listener_rtp.close()
        person_rtp.close()
    assert result.get("result") == "connected", result
    [to_listener] = listener.received_requests("INVITE")
    assert CALLER in (header(to_listener, "From") or ""), "the listener sees whom they call"
    [to_person] = person.received_requests("INVITE")
    assert to_person.startswith(f"INVITE sip:{CALLER}@"), to_person.splitlines()[0]
    assert CALLBACK_NUMBER in (header(to_person, "From") or ""), header(to_person, "From")
    pai = header(to_person, "P-Asserted-Identity") or ""
    assert CALLBACK_NUMBER in pai, to_person
    assert loud_seconds([s for f in person_rtp.frames for s in f.samples]) > 2
