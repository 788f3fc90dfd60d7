"""What ships with the transport: compose file, Asterisk configuration, prompts."""

from __future__ import annotations

import os
import struct
import wave
from pathlib import Path

import pytest
import yaml

from ivr.flow import prompts
from ivr.prompts_audio import (
    FORMATS_NOTE,
    PromptFormatError,
    alaw_companion,
    build,
    prompt_texts,
)
from ivr.transports.ari.dialplan import fallback_dialplan, header_years, number_forms
from routing.index import RouteIndex
from tests.ari.harness import routing_config

ROOT = Path(__file__).resolve().parents[2]


def test_given_compose_file_then_every_service_is_there_and_every_mounted_file_exists() -> None:
    # Docker does not run on the development machines: the file is checked, not started.
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"asterisk", "redis", "postgres", "sisiao-sandbox", "ivr"}
    for name, service in services.items():
        assert "image" in service, name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} is missing"
    env = services["ivr"]["environment"]
    for key in ("IVR_ARI_URL", "IVR_ARI_USER", "IVR_ARI_PASSWORD", "IVR_ARI_APP"):
        assert key in env
    assert env["IVR_ARI_DIAL_TEMPLATE"] == "PJSIP/{number}@operator"


def test_given_dialplan_then_inbound_numbers_go_to_stasis_and_fall_back_when_it_fails() -> None:
    dialplan = (ROOT / "deploy/asterisk/extensions.conf").read_text()
    assert "Stasis(ivr,inbound,${EXTEN})" in dialplan
    assert '$["${STASISSTATUS}" = "FAILED"]?ivr-fallback,${EXTEN},1' in dialplan
    assert "#include extensions_fallback.conf" in dialplan


def test_given_routing_file_then_fallback_routes_every_inbound_number_in_every_form() -> None:
    config = routing_config()
    generated = fallback_dialplan(config)
    for number, _route in RouteIndex(config).inbound_numbers().items():
        for form in number_forms(number):
            assert f"exten => {form},1,Set(IVR_CALLED={number})" in generated
    ain = generated.split("[ivr-fallback-115-01]")[1].split("\n\n")[0]
    assert "Dial(PJSIP/+33261910000@operator&PJSIP/+33261910001@operator" in ain
    assert "Dial(PJSIP/+33465719900@operator,30)" in ain, "then the LRO"
    assert ain.rstrip().endswith("Hangup()")
    assistance = generated.split("[ivr-fallback-assistance]")[1].split("\n\n")[0]
    assert "+33536490001" in assistance
    assert "Playback(ivr/urgent_email)" in assistance
    # The prompts live in <sounds>/fr/ivr/: Playback finds them only in French.
    for context in generated.split("\n[ivr-fallback-")[1:]:
        if context.startswith("hours-"):
            continue  # a subroutine of the contexts, which set the language
        assert " same => n,Set(CHANNEL(language)=fr)" in context, context.split("]")[0]


def test_given_committed_fallback_then_it_matches_the_routing_file() -> None:
    committed = (ROOT / "deploy/asterisk/extensions_fallback.conf").read_text()
    years = header_years(committed)
    assert years is not None, "the header says which years of public holidays it lists"
    assert committed == fallback_dialplan(routing_config(), years=years)


def write_silence(text: str, out: Path) -> None:
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\0\0" * 80 * len(text))


def test_given_prompt_texts_when_built_twice_then_only_changed_texts_are_rendered_again(
    tmp_path: Path,
) -> None:
    texts = prompt_texts(routing_config())
    assert texts["deterrence_saturation_01"].startswith("Toutes les lignes du 115 Ain")

    first = build(texts, tmp_path, write_silence)
    second = build({**texts, "goodbye": "Au revoir et à bientôt."}, tmp_path, write_silence)

    assert set(first) == set(texts)
    assert second == ["goodbye"]
    with wave.open(str(tmp_path / "welcome_115.wav")) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
    manifest = (tmp_path / "texts.tsv").read_text()
    assert "goodbye\t" in manifest
    assert "Au revoir et à bientôt." in manifest


def test_given_committed_prompts_then_every_fixed_prompt_and_piece_has_its_file() -> None:
    for prompt_id in [*prompts.FIXED, *prompts.PIECES]:
        assert (ROOT / "prompts/fr" / f"{prompt_id}.wav").exists(), prompt_id
        # and its A-law twin, which Asterisk plays on A-law calls without transcoding
        alaw = ROOT / "prompts/fr" / f"{prompt_id}.alaw"
        with wave.open(str(ROOT / "prompts/fr" / f"{prompt_id}.wav")) as wav:
            assert alaw.stat().st_size == wav.getnframes(), prompt_id


def write_samples(out: Path, samples: list[int], rate: int = 8000) -> None:
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(struct.pack(f"<{len(samples)}h", *samples))


def test_given_prompt_wav_then_its_alaw_twin_is_g711_a_law(tmp_path: Path) -> None:
    # G.711 reference points: 0 -> 0xD5, -1 -> 0x55, 4096 -> 0x85, full scale -> 0xAA/0x2A.
    source = tmp_path / "p.wav"
    write_samples(source, [0, -1, 4096, 32767, -32768, 100, -100])
    out = alaw_companion(source)
    assert out == tmp_path / "p.alaw"
    assert out.read_bytes()[:5] == bytes([0xD5, 0x55, 0x85, 0xAA, 0x2A])
    assert len(out.read_bytes()) == 7


def test_given_prompts_built_then_each_has_its_alaw_and_a_hand_recorded_wav_gets_one_again(
    tmp_path: Path,
) -> None:
    texts = {"goodbye": "Au revoir.", "no_input": "Nous n'avons pas reçu votre choix."}
    build(texts, tmp_path, write_silence)
    assert (tmp_path / "goodbye.alaw").read_bytes() == bytes([0xD5]) * 80 * len("Au revoir.")
    # A person replaces a WAV by a recorded voice: the next build makes its A-law again.
    os.utime(tmp_path / "goodbye.alaw", (1, 1))
    write_samples(tmp_path / "goodbye.wav", [4096] * 800)
    assert build(texts, tmp_path, write_silence) == []
    assert (tmp_path / "goodbye.alaw").read_bytes() == bytes([0x85]) * 800
    # A recording in another format is refused with what is wrong, in French.
    write_samples(tmp_path / "no_input.wav", [0] * 100, rate=16000)
    os.utime(tmp_path / "no_input.alaw", (1, 1))
    with pytest.raises(PromptFormatError, match="16000 Hz"):
        build(texts, tmp_path, write_silence)
    assert "8 kHz mono 16 bits" in FORMATS_NOTE
    assert "A-law" in FORMATS_NOTE
