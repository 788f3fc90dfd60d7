"""How prompts are spoken, and the stateless fallback document.

Prompts are ``<Say language="fr-FR">`` of their French text, or, when a prompts base URL is
configured, ``<Play>`` of the hosted sound files (``<base>/<name>.wav``) with the numbers
spoken by the provider.

The fallback document is what ``POST /laml/fallback`` answers when the provider could not
get a document from the primary webhook (timeout, error): it needs nothing but the routing
configuration, so it works while the rest of the service does not. It follows the fallback
plan of ``routing.fallback`` (the one the Asterisk dialplan follows): a 115 call rings its
département's listeners, then goes down its LRO chain (or the national one), one ``<Dial>``
per step, each ``action`` coming back here with the next step; the assistance line rings
national support when it is open, and otherwise gives the urgent e-mail message: never
silence.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

from ivr.flow import CallFlow, prompts
from ivr.flow.vocabulary import Prompt, SayNumber, Sound
from ivr.transports.laml.config import Urls
from ivr.transports.laml.verbs import Document

ANSWERED_DIAL_STATUSES = frozenset({"completed", "answered"})


class Speaker:
    """Turns prompts into ``<Say>`` or ``<Play>`` verbs."""

    def __init__(self, prompts_base_url: str | None = None, voice: str | None = None) -> None:
        self.base = prompts_base_url.rstrip("/") if prompts_base_url else None
        self.voice = voice

    def speak(self, doc: Document, prompt: Prompt, parent: ET.Element | None = None) -> None:
        if self.base is None:
            doc.say(prompt.text, self.voice, parent)
            return
        for segment in prompt.segments:
            if isinstance(segment, Sound):
                doc.play(f"{self.base}/{segment.name}.wav", parent)
            elif isinstance(segment, SayNumber):
                doc.say(str(segment.value), self.voice, parent)


def fallback_document(
    flow: CallFlow,
    urls: Urls,
    speaker: Speaker,
    to_number: str | None,
    step: int,
    dial_status: str | None,
    now: datetime,
) -> bytes:
    """The document for step ``step`` of the fallback plan of a call to ``to_number``.

    Each ``<Dial>`` of the plan (``routing.fallback``, which the Asterisk dialplan follows
    too) comes back here with the index of the next step; a step whose hours are closed is
    skipped; after the last one, the plan's last word and a hang-up.
    """
    doc = Document()
    if step > 0 and dial_status in ANSWERED_DIAL_STATUSES:
        doc.hangup()  # the previous step connected the caller; the conversation is over
        return doc.to_bytes()
    plan = flow.fallback.for_number(to_number)
    position = plan.next_step(max(step, 0), now)
    if position is None:
        last = plan.last_word
        if last.configured_text is not None:
            speaker.speak(doc, prompts.configured(last.prompt, last.configured_text))
        else:
            speaker.speak(doc, prompts.fixed(last.prompt))
        doc.hangup()
        return doc.to_bytes()
    current = plan.steps[position]
    if current.announcement is not None:
        speaker.speak(doc, prompts.fixed(current.announcement))
    dial = doc.dial(timeout_s=current.ring_timeout_s, action=urls.fallback(position + 1))
    for number in current.numbers:
        doc.number(dial, number)
    return doc.to_bytes()
