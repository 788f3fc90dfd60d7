"""A remote phone over TLS with SRTP: a 115 listener working from home on a softphone.

``ecoutant-75-2`` of deploy/asterisk/pjsip.conf (template ``[phone-remote]``) is baresip
(tests/sip/baresip.py): it registers over TLS to the lab's ``transport-tls`` and accepts
SRTP only. A 115 caller from the operator trunk (SIPp, plain RTP as an operator sends it)
is put through to it: the INVITE reaches the phone inside TLS, offering SRTP (``RTP/SAVP``
with an ``a=crypto`` key), the phone answers the same way, both hear each other, the
recording holds both, and the phone's BYE ends everything.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sip.baresip import Baresip
from tests.sip.home_nat import home_nat
from tests.sip.home_nat import missing as home_nat_missing
from tests.sip.lab import (
    PARIS_115,
    PHONE_PASSWORD,
    REMOTE_LISTENER_PARIS,
    Ari,
    LabAsterisk,
    Service,
    Sipp,
    caller,
    envelope,
    header,
    sox_stat,
    tone_level_db,
    wav_samples,
)
from tests.sip.rtp import RtpPeer

pytestmark = [pytest.mark.sip]

CALLER = "+33612345678"
PHONE = "ecoutant-75-2"
TALK_S = 5.0


def phone_channel(ari: Ari, timeout: float = 40.0) -> dict[str, object]:
    """The remote phone's channel once it is up (answered)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for channel in ari.channels():
            if str(channel["name"]).startswith(f"PJSIP/{PHONE}-") and channel["state"] == "Up":
                return channel
        time.sleep(0.2)
    raise AssertionError(f"{PHONE} never answered: {[c['name'] for c in ari.channels()]}")


def channel_variable(lab: LabAsterisk, channel_id: str, variable: str) -> str:
    with lab.client() as client:
        response = client.get(f"/channels/{channel_id}/variable", params={"variable": variable})
        response.raise_for_status()
        return str(response.json()["value"])


def set_presence(service: Service, presence: str) -> None:
    service.post(
        "/lab/presence",
        {"departement": "75", "phone": REMOTE_LISTENER_PARIS, "presence": presence},
    )


@dataclass
class RemoteCall:
    """What a 115 call put through to a remote phone left to check."""

    secure: str  # CHANNEL(pjsip,secure) of the phone's leg
    heard_by_caller: list[int]  # from the moment the phone answered
    caller_amplitude: int
    recording: Path


def put_through_to_remote_phone(
    lab: LabAsterisk,
    ari: Ari,
    service: Service,
    work: Path,
    phone: Baresip,
    hang_up: Callable[[str], None],
) -> RemoteCall:
    """A 115 caller (SIPp on the trunk, 500 Hz) put through to ``phone``, available; after
    ``TALK_S`` of conversation ``hang_up(phone's channel id)`` ends it from the phone's side."""
    caller_rtp = RtpPeer(tone_hz=500.0)
    before = ari.stored_recordings()
    try:
        call = call_the_115_with_phone_available(lab, ari, service, work, caller_rtp)
        try:
            caller_rtp.wait_first_packet(timeout=20)
            caller_rtp.talk()
            channel = phone_channel(ari)
            bridged = time.monotonic()
            secure = channel_variable(lab, str(channel["id"]), "CHANNEL(pjsip,secure)")
            time.sleep(TALK_S)
            hang_up(str(channel["id"]))
            assert call.wait(timeout=15) == 0, call.tail()
            heard_by_caller = caller_rtp.samples_between(bridged, time.monotonic())
        finally:
            call.stop()
            caller_rtp.close()
            set_presence(service, "offline")
    finally:
        phone.stop()
    [name] = sorted(ari.stored_recordings() - before)
    recording = work / "recording.wav"
    recording.write_bytes(ari.recording_file(name))
    return RemoteCall(secure, heard_by_caller, caller_rtp.amplitude, recording)


def assert_srtp_conversation(phone: Baresip, call: RemoteCall, work: Path) -> str:
    """The checks of a call to a remote phone; the phone's 200 OK to the INVITE."""
    assert call.secure == "1", "the phone's leg is signalled over TLS"
    # Inside TLS: the INVITE with the caller's number, offering SRTP only.
    invites = phone.messages_matching("INVITE ")
    assert invites, phone.output()[-3000:]
    invite = invites[0]
    assert CALLER in (header(invite, "From") or ""), header(invite, "From")
    assert re.search(r"^m=audio \d+ RTP/SAVP ", invite, re.M), "offered as SRTP"
    assert not re.search(r"^m=audio \d+ RTP/AVP ", invite, re.M), "no clear RTP offered"
    assert re.search(r"^a=crypto:\d+ AES_CM_128_HMAC_SHA1_(80|32) inline:", invite, re.M)
    invite_cseq = re.compile(r"^CSeq: *\d+ INVITE", re.M)
    answers = [m for m in phone.messages_matching("SIP/2.0 200") if invite_cseq.search(m)]
    assert answers, "the phone answered"
    assert re.search(r"^m=audio \d+ RTP/SAVP ", answers[0], re.M), "answered as SRTP"
    assert "SRTP is Enabled" in phone.output()
    # Both heard each other at the level the other sent: the caller's A-law tone reached
    # the phone (its decoded dump), the phone's sine (its encoded dump) the caller.
    heard_by_phone = wav_samples(at_8k(phone.dump("dec"), work))
    said_by_phone = wav_samples(at_8k(phone.dump("enc"), work))
    assert sum(1 for v in envelope(call.heard_by_caller) if v > 1000) * 0.02 > TALK_S * 0.6
    assert tone_level_db(heard_by_phone, call.caller_amplitude) > -1.0
    assert loud_median(call.heard_by_caller) / loud_median(said_by_phone) > 10 ** (-1 / 20)
    # The recording holds both parties.
    for band in ("400-600", "1400-1600"):
        assert sox_stat(call.recording, "sinc", band)["RMS     amplitude"] > 0.02, band
    return answers[0]


def test_given_remote_listener_over_tls_when_115_called_then_srtp_both_ways_and_recorded(
    lab: LabAsterisk, ari: Ari, service: Service, work: Path
) -> None:
    phone = Baresip(PHONE, work, lab_ca(lab), PHONE_PASSWORD).start()

    call = put_through_to_remote_phone(
        lab, ari, service, work, phone, lambda _: phone.command("hangup")
    )

    assert_srtp_conversation(phone, call, work)
    [head] = [h for h, m in phone.messages() if m.startswith("INVITE ")][:1]
    assert re.match(r"TLS 127\.0\.0\.1:5061 -> ", head), head


def test_given_remote_listener_behind_nat_when_115_called_then_reached_and_heard(
    lab: LabAsterisk, ari: Ari, service: Service, work: Path
) -> None:
    """The phone at home behind a NAT box (tests/sip/home_nat.py): registered from its
    private address, reached over the TLS connection it opened, its audio sent back where
    it comes from although its SDP names its private address; Asterisk hangs up (BYE
    through the NAT)."""
    why = home_nat_missing()
    if why:
        pytest.fail(f"no home network for the NAT test: {why}")
    with home_nat() as nat:
        phone = Baresip(
            PHONE, work, lab_ca(lab), PHONE_PASSWORD, host=nat.phone_ip,
            proxy=f"{nat.platform_ip}:5061", netns=nat.phone_ns,
        ).start()  # fmt: skip

        call = put_through_to_remote_phone(
            lab, ari, service, work, phone, lambda channel: hang_up_channel(lab, channel)
        )

    answer = assert_srtp_conversation(phone, call, work)
    # Seen from Asterisk, the phone is the home's public address, not its own.
    [register] = [
        m for h, m in phone.messages() if m.startswith("SIP/2.0 200") and "REGISTER" in m
    ][:1]
    via = header(register, "Via") or ""
    assert f"received={nat.public_ip}" in via, via
    assert f"c=IN IP4 {nat.phone_ip}" in answer, "the phone's SDP names its private address"
    byes = phone.messages_matching("BYE ")
    assert byes, "Asterisk's BYE reached the phone through the NAT"


def loud_median(samples: list[int]) -> float:
    loud = sorted(v for v in envelope(samples) if v > 1000)
    assert loud, "nothing heard"
    return loud[len(loud) // 2]


def at_8k(wav: Path, work: Path) -> Path:
    """The WAV as 8 kHz mono 16-bit (baresip's dumps are at its own rates)."""
    out = work / f"{wav.stem}-8k.wav"
    subprocess.run(["sox", str(wav), "-r", "8000", "-c", "1", "-b", "16", str(out)], check=True)
    return out


def test_given_remote_phone_without_srtp_when_rung_then_never_put_through_in_clear(
    lab: LabAsterisk, ari: Ari, service: Service, work: Path
) -> None:
    """A remote phone that does not do SRTP is offered SRTP only and refuses; the caller is
    never put through to it with clear RTP (the service moves on, as for any failed leg)."""
    phone = Baresip(PHONE, work, lab_ca(lab), PHONE_PASSWORD, media="").start()
    caller_rtp = RtpPeer(tone_hz=500.0)
    up: list[str] = []
    try:
        call = call_the_115_with_phone_available(lab, ari, service, work, caller_rtp)
        try:
            caller_rtp.wait_first_packet(timeout=20)
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline and not phone.messages_matching("INVITE "):
                time.sleep(0.2)
            # Watch the phone's leg for a while: it must never be answered.
            watch_until = time.monotonic() + 8
            while time.monotonic() < watch_until:
                up += [
                    str(c["name"])
                    for c in ari.channels()
                    if str(c["name"]).startswith(f"PJSIP/{PHONE}-") and c["state"] == "Up"
                ]
                time.sleep(0.2)
            set_presence(service, "offline")
            hang_up_callers(lab, ari)  # the caller leaves the queue (Asterisk's BYE)
            assert call.wait(timeout=15) == 0, call.tail()
        finally:
            call.stop()
            caller_rtp.close()
            set_presence(service, "offline")
    finally:
        phone.stop()
    [invite] = phone.messages_matching("INVITE ")[:1]
    assert re.search(r"^m=audio \d+ RTP/SAVP ", invite, re.M), "SRTP offered"
    assert not re.search(r"^m=audio \d+ RTP/AVP ", invite, re.M), "no clear RTP offered"
    assert up == [], "the phone's leg was answered without SRTP"
    # The phone refused the SRTP offer (488), and nothing answered it in clear.
    refusals = phone.messages_matching("SIP/2.0 488")
    assert refusals, "the phone refused the offer"
    assert re.search(r"^CSeq: *\d+ INVITE", refusals[0], re.M)
    answers = [
        m
        for m in phone.messages_matching("SIP/2.0 200")
        if re.search(r"^CSeq: *\d+ INVITE", m, re.M)
    ]
    assert answers == [], "the phone's leg was answered"


def hang_up_callers(lab: LabAsterisk, ari: Ari) -> None:
    for channel in ari.channels():
        if str(channel["name"]).startswith("PJSIP/operator-"):
            hang_up_channel(lab, str(channel["id"]))


def call_the_115_with_phone_available(
    lab: LabAsterisk, ari: Ari, service: Service, work: Path, caller_rtp: RtpPeer
) -> Sipp:
    """The phone registered and set available, then a caller on the 115 Paris."""
    ari.wait_online(PHONE)
    set_presence(service, "available")
    return caller("caller", work, lab, PARIS_115, CALLER, caller_rtp.port, 600_000).start()


def lab_ca(lab: LabAsterisk) -> Path:
    if not lab.ca:
        pytest.fail("IVR_LAB_ASTERISK needs ca=<the lab's certificate> (lab.sh start says it)")
    return Path(lab.ca)


def hang_up_channel(lab: LabAsterisk, channel_id: str) -> None:
    with lab.client() as client:
        client.delete(f"/channels/{channel_id}")
