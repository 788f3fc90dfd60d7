"""Media commands as plain data, for the snapshots another instance resumes a call from."""

from __future__ import annotations

from typing import Any

from ivr.flow.vocabulary import (
    Answer,
    Dial,
    DialTarget,
    Gather,
    Hangup,
    Hold,
    Outcome,
    Play,
    Prompt,
    Role,
    SayNumber,
    Segment,
    Sound,
    StartRecording,
    StopRecording,
)

Media = Answer | Play | Gather | Dial | Hold | StartRecording | StopRecording | Hangup

_SIMPLE: dict[str, type[Answer | Hold | StartRecording | StopRecording]] = {
    "answer": Answer,
    "hold": Hold,
    "start_recording": StartRecording,
    "stop_recording": StopRecording,
}


def _prompt(prompt: Prompt) -> dict[str, Any]:
    return {
        "id": prompt.id,
        "text": prompt.text,
        "segments": [
            {"sound": seg.name} if isinstance(seg, Sound) else {"number": seg.value}
            for seg in prompt.segments
        ],
    }


def _segment(raw: dict[str, Any]) -> Segment:
    return Sound(raw["sound"]) if "sound" in raw else SayNumber(int(raw["number"]))


def _unprompt(raw: dict[str, Any]) -> Prompt:
    return Prompt(raw["id"], raw["text"], tuple(_segment(seg) for seg in raw["segments"]))


def encode_media(command: Media) -> dict[str, Any]:
    """A JSON-ready dict for a media command."""
    match command:
        case Play(prompt, interruptible):
            return {"type": "play", "prompt": _prompt(prompt), "interruptible": interruptible}
        case Gather(prompt, max_digits, timeout_s, inter_digit_timeout_s):
            return {
                "type": "gather",
                "prompt": _prompt(prompt),
                "max_digits": max_digits,
                "timeout_s": timeout_s,
                "inter_digit_timeout_s": inter_digit_timeout_s,
            }
        case Dial(targets, ring_timeout_s, caller_id):
            return {
                "type": "dial",
                "targets": [[t.number, t.name, t.role.value] for t in targets],
                "ring_timeout_s": ring_timeout_s,
                "caller_id": caller_id,
            }
        case Hangup(outcome):
            return {"type": "hangup", "outcome": outcome.value}
    for name, kind in _SIMPLE.items():
        if isinstance(command, kind):
            return {"type": name}
    raise TypeError(f"not a media command: {command!r}")


def decode_media(raw: dict[str, Any]) -> Media:
    """The media command ``encode_media`` described (``ValueError`` on unknown data)."""
    kind = raw.get("type")
    if kind == "play":
        return Play(_unprompt(raw["prompt"]), bool(raw.get("interruptible", False)))
    if kind == "gather":
        return Gather(
            _unprompt(raw["prompt"]),
            int(raw["max_digits"]),
            int(raw["timeout_s"]),
            int(raw["inter_digit_timeout_s"]),
        )
    if kind == "dial":
        return Dial(
            tuple(DialTarget(n, name, Role(role)) for n, name, role in raw["targets"]),
            int(raw["ring_timeout_s"]),
            raw["caller_id"],
        )
    if kind == "hangup":
        return Hangup(Outcome(raw["outcome"]))
    if isinstance(kind, str) and kind in _SIMPLE:
        return _SIMPLE[kind]()
    raise ValueError(f"unknown media command: {raw!r}")
