"""The assistance line over real SIP and RTP: operator trunk in, a referent's SIP phone out.

SIPp plays the operator (INVITE to 0 806 000 156 from 127.0.0.1:5071, the trunk's address)
and the referent's phone (referent-75-1 of deploy/asterisk/pjsip.conf, registered with
digest authentication, answering on 5080); the RTP of both is the suite's RTP peer
(tests/sip/rtp.py): the caller says a 500 Hz tone, the referent a 1500 Hz tone.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from tests.sip.lab import (
    ASSISTANCE,
    CALLER_PORT,
    INBAND_CALLER_PORT,
    REFERENT_PORT,
    Ari,
    LabAsterisk,
    Service,
    Sipp,
    best_correlation,
    caller,
    envelope,
    header,
    prompt_file,
    register,
    sox_stat,
    tone_level_db,
    uas,
    wav_samples,
)
from tests.sip.rtp import RtpPeer

pytestmark = [pytest.mark.sip]

CALLER = "+33612345678"
CALLER_HZ = 500.0
REFERENT_HZ = 1500.0
TALK_S = 5.0
# What a caller hears first on the assistance line when it is recorded: the welcome, the
# recording notice and the département question, back to back.
OPENING = ("assistance_welcome", "recording_notice", "ask_departement")


def wait_for(what: str, check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def band_rms(wav: Path, low: int, high: int) -> float:
    """RMS amplitude (0..1) of the part of the audio between two frequencies."""
    return sox_stat(wav, "sinc", f"{low}-{high}")["RMS     amplitude"]


def run_assistance_call(
    lab: LabAsterisk,
    ari: Ari,
    service: Service,
    work: Path,
    caller_hangs_up: bool,
    keys: str = "rfc4733",
) -> dict[str, object]:
    """One whole call: the opening, 7 5 then 1, the referent rings, answers, both talk
    TALK_S seconds, then one side hangs up. Returns what the test checks."""
    register(work, lab, "referent-75-1", REFERENT_PORT)
    caller_rtp = RtpPeer(tone_hz=CALLER_HZ)
    referent_rtp = RtpPeer(tone_hz=REFERENT_HZ)
    recordings_before = ari.stored_recordings()
    referent = uas(
        "referent", work, REFERENT_PORT, referent_rtp.port,
        hangup_after_ms=600_000 if caller_hangs_up else int(TALK_S * 1000),
    ).start()  # fmt: skip
    ari.wait_online("referent-75-1")
    opening_s = sum(len(wav_samples(prompt_file(lab, p))) / 8000 for p in OPENING)
    extra: list[str] = []
    scenario = "caller.xml"
    if keys == "info":
        scenario = "caller_info.xml"
        info_at = str(int((opening_s + 1.0) * 1000))
        extra = ["-set", "info_at", info_at, "-set", "info_wait", "1500"]
        extra += ["-set", "info_1", "7", "-set", "info_2", "5", "-set", "info_3", "1"]
    # The caller stays on long enough for everything, then hangs up (or is hung up on).
    call: Sipp = caller(
        "caller", work, lab, ASSISTANCE, CALLER, caller_rtp.port,
        hangup_after_ms=int((opening_s + 25 + TALK_S) * 1000) if caller_hangs_up else 600_000,
        scenario=scenario, extra=extra,
        port=INBAND_CALLER_PORT if keys == "inband" else CALLER_PORT,
    ).start()  # fmt: skip
    try:
        answered = caller_rtp.wait_first_packet(timeout=20)
        # The caller listens to the whole opening, then types.
        time.sleep(max(0.0, answered + opening_s + 1.0 - time.monotonic()))
        heard = caller_rtp.samples_between(answered - 0.1, answered + opening_s + 0.9)
        if keys in ("rfc4733", "inband"):
            send = caller_rtp.send_rfc4733 if keys == "rfc4733" else caller_rtp.send_inband
            send("75")
            caller_rtp.wait_idle()
            time.sleep(1.5)  # the reason menu starts; its prompt stops at the key
            send("1")
        referent_rtp.wait_first_packet(timeout=40)  # the referent answered: bridged
        bridged_at = time.monotonic()
        caller_rtp.talk()
        referent_rtp.talk()
        assert call.wait(timeout=opening_s + 60) == 0, call.tail()
        referent.wait_ended(timeout=15)
    finally:
        call.stop()
        referent.stop()
        caller_rtp.close()
        referent_rtp.close()
    new = sorted(ari.stored_recordings() - recordings_before)
    recording = work / "recording.wav"
    if new:
        recording.write_bytes(ari.recording_file(new[-1]))
    (work / "caller-heard.wav").write_bytes(caller_rtp.wav_bytes())
    return {
        "opening_s": opening_s,
        "heard": heard,
        "invite": (referent.received_requests("INVITE") or [""])[0],
        "recordings": new,
        "recording": recording,
        "caller_received_from_referent": caller_rtp.samples_between(bridged_at, time.monotonic()),
        "referent_heard": referent_rtp.samples_between(bridged_at, time.monotonic()),
        # The caller's own BYE goes to the number it called; Asterisk's comes to the caller.
        "caller_bye": [
            m for m in call.messages().split("\n") if m.startswith(f"BYE sip:{ASSISTANCE}@")
        ],
    }


def check_call(lab: LabAsterisk, result: dict[str, object]) -> None:
    # The caller heard the opening: speech, shaped as the prompts are, about as long.
    heard = result["heard"]
    assert isinstance(heard, list)
    opening: list[int] = []
    for prompt in OPENING:
        opening.extend(wav_samples(prompt_file(lab, prompt)))
    received_env, expected_env = envelope(heard), envelope(opening)
    voiced = [i for i, v in enumerate(received_env) if v > 300]
    assert voiced, "the caller heard only silence"
    voiced_s = (voiced[-1] - voiced[0] + 1) * 0.02
    expected_voiced = [i for i, v in enumerate(expected_env) if v > 300]
    expected_s = (expected_voiced[-1] - expected_voiced[0] + 1) * 0.02
    assert abs(voiced_s - expected_s) < 1.0, (voiced_s, expected_s)
    assert best_correlation(received_env, expected_env) > 0.8
    # The referent's phone was rung with the caller's number presented.
    invite = str(result["invite"])
    assert invite, "the referent's phone received no INVITE"
    assert CALLER in (header(invite, "From") or ""), header(invite, "From")
    # RTP both ways once bridged: each side heard the other's tone, not silence.
    for key in ("caller_received_from_referent", "referent_heard"):
        samples = result[key]
        assert isinstance(samples, list), key
        assert samples, key
        loud = envelope(samples)
        assert sum(1 for v in loud if v > 1000) * 0.02 > TALK_S * 0.6, key
        # At the level sent: the legs run in A-law end to end, nothing resampled.
        assert tone_level_db(samples, RtpPeer.amplitude)  # both send the default > -1.0, key
    # The recording holds both parties (each one's tone, measured by sox in its band).
    assert result["recordings"], "no recording stored"
    recording = result["recording"]
    assert isinstance(recording, Path)
    assert band_rms(recording, 400, 600) > 0.02, "the caller is not in the recording"
    assert band_rms(recording, 1400, 1600) > 0.02, "the referent is not in the recording"
    # Both parties recorded at the same level (they send the same amplitude).
    levels = band_rms(recording, 400, 600), band_rms(recording, 1400, 1600)
    assert abs(20 * math.log10(levels[0] / levels[1])) < 1.0, levels
    assert sox_stat(recording)["Length (seconds)"] >= TALK_S * 0.8


def test_given_assistance_call_over_trunk_when_caller_hangs_up_then_referent_talked_and_recorded(
    lab: LabAsterisk, ari: Ari, service: Service, work: Path
) -> None:
    result = run_assistance_call(lab, ari, service, work, caller_hangs_up=True)
    check_call(lab, result)
    assert result["caller_bye"], "the caller's BYE ended the call"


def test_given_assistance_call_when_referent_hangs_up_then_everything_ends(
    lab: LabAsterisk, ari: Ari, service: Service, work: Path
) -> None:
    result = run_assistance_call(lab, ari, service, work, caller_hangs_up=False)
    check_call(lab, result)
    assert not result["caller_bye"], "the referent's BYE ended the call, not the caller's"


def test_given_keys_as_sip_info_then_departement_and_reason_are_taken(
    lab: LabAsterisk, ari: Ari, service: Service, work: Path
) -> None:
    # SIP INFO (application/dtmf-relay) on the operator trunk, whose dtmf_mode is rfc4733:
    # Asterisk takes INFO keys whatever dtmf_mode says.
    result = run_assistance_call(lab, ari, service, work, caller_hangs_up=False, keys="info")
    check_call(lab, result)


def test_given_inband_trunk_when_keys_are_tones_then_departement_and_reason_are_taken(
    lab: LabAsterisk, ari: Ari, service: Service, work: Path
) -> None:
    # The lab's operator-inband endpoint (dtmf_mode = inband, identified by port 5072): the
    # keys are the two frequencies of each key in the A-law audio; Asterisk's DSP hears them.
    result = run_assistance_call(lab, ari, service, work, caller_hangs_up=False, keys="inband")
    check_call(lab, result)
