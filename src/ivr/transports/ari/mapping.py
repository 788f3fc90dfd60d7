"""Pure translations between the flow's vocabulary and what Asterisk speaks."""

from __future__ import annotations

from ivr.flow.vocabulary import DialOutcome, Prompt, SayNumber, Sound
from ivr.transports.ari.events import Channel
from routing.phone import try_normalize

PLAYBACK_WATCHDOG_S = 30.0  # a playback whose end is not heard is given up after this

# Asterisk's DIALSTATUS at the end of a dial attempt. ANSWER is not here: a leg counts as
# answered when it enters Stasis, the only moment it can be bridged.
DIALSTATUS: dict[str, DialOutcome] = {
    "BUSY": DialOutcome.BUSY,
    "NOANSWER": DialOutcome.NO_ANSWER,
    "CANCEL": DialOutcome.NO_ANSWER,
    "CONGESTION": DialOutcome.FAILED,
    "CHANUNAVAIL": DialOutcome.FAILED,
    "INVALIDARGS": DialOutcome.FAILED,
    "DONTCALL": DialOutcome.BUSY,
    "TORTURE": DialOutcome.BUSY,
}

# Q.850 hangup causes of a leg that ended before it was answered.
BUSY_CAUSES = frozenset({17, 21})  # user busy; call rejected (the person declined)
NO_ANSWER_CAUSES = frozenset({0, 16, 18, 19, 31, 102})  # rang out, or ended without a reason


def dial_outcome_from_status(status: str) -> DialOutcome | None:
    """The outcome a final DIALSTATUS means; None while the attempt goes on."""
    return DIALSTATUS.get(status.upper())


def dial_outcome_from_cause(cause: int | None) -> DialOutcome:
    """Busy, no answer or failure, told apart from the Q.850 cause of an unanswered leg."""
    if cause in BUSY_CAUSES:
        return DialOutcome.BUSY
    if cause is None or cause in NO_ANSWER_CAUSES:
        return DialOutcome.NO_ANSWER
    return DialOutcome.FAILED  # unallocated number, no route, congestion, network out of order


def media_uris(prompt: Prompt, sound_dir: str) -> list[str]:
    """ARI media URIs for a prompt: our sound files by name, numbers said by Asterisk."""
    uris: list[str] = []
    for segment in prompt.segments:
        if isinstance(segment, Sound):
            uris.append(
                f"sound:{sound_dir}/{segment.name}" if sound_dir else f"sound:{segment.name}"
            )
        elif isinstance(segment, SayNumber):
            uris.append(f"number:{segment.value}")
    return uris


# The codecs of a leg originated for nobody (a call-back's first leg): G.711, those of the
# trunk and the phones (deploy/asterisk/pjsip.conf). A Local leg originated with neither
# formats nor an originator gets every audio format, and Asterisk 22 runs it in slin192
# (seen on 22.10.1: alaw -> slin -> slin192 and back on each side, 6 dB lost each way).
LEG_FORMATS = "alaw,ulaw"


def dial_endpoint(template: str, number: str) -> str:
    """The dial string for a number: ``{number}`` (E.164), ``{national}``, ``{digits}``.

    The number is brought to E.164 first: a listener's phone comes from their console
    account as it was typed ("02 61 91 07 50"), and a space in a dial string makes
    Asterisk fail the channel at once (seen with ``Local/02 61 91 07 50@ivr-outbound``:
    the originate answers 200, then the channel is destroyed with cause 0, no Dial event).
    """
    number = try_normalize(number) or "".join(number.split())
    national = "0" + number[3:] if number.startswith("+33") else number
    return template.format(number=number, national=national, digits=number.lstrip("+"))


def caller_number(channel: Channel) -> str | None:
    """The caller's number in E.164, or None when withheld or unusable."""
    raw = channel.caller.number
    if not raw or raw.lower() in ("anonymous", "unknown", "restricted", "private"):
        return None
    return try_normalize(raw)


def called_number(raw: str) -> str:
    """The dialled number in E.164 when it parses (the configuration's form), else as given."""
    return try_normalize(raw) or raw


def joined_prompt(first: Prompt, second: Prompt) -> Prompt:
    """Two prompts played as one (a refusal and the question that follows it)."""
    return Prompt(
        f"{first.id}+{second.id}", f"{first.text} {second.text}", first.segments + second.segments
    )


def in_app(channel: Channel, app: str) -> bool:
    """Whether ``channel`` is in the Stasis application ``app``."""
    dialplan = channel.dialplan
    return dialplan.app_name == "Stasis" and dialplan.app_data.split(",")[0] == app


def app_args(channel: Channel) -> list[str]:
    """The arguments the dialplan gave ``Stasis()`` after the application's name."""
    return channel.dialplan.app_data.split(",")[1:]


def longest_playback_s(prompt: Prompt) -> float:
    """Far more than a prompt lasts (French speech: about 15 characters a second)."""
    return PLAYBACK_WATCHDOG_S + len(prompt.text) / 5
