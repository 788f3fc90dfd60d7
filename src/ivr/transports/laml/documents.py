"""How prompts are spoken, and the stateless fallback document.

Prompts are ``<Say language="fr-FR">`` of their French text, or, when a prompts base URL is
configured, ``<Play>`` of the hosted sound files (``<base>/<name>.wav``) with the numbers
spoken by the provider.

The fallback document is what ``POST /laml/fallback`` answers when the provider could not
get a document from the primary webhook (timeout, error): it needs nothing but the routing
configuration, so it works while the rest of the service does not. A 115 call goes down its
département's LRO chain (or the national one), one number per ``<Dial>``, each ``action``
coming back here with the next step; the assistance line rings national support when it is
open, and otherwise gives the urgent e-mail message: never silence.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

from ivr.flow import CallFlow, prompts
from ivr.flow.vocabulary import Prompt, SayNumber, Sound
from ivr.transports.laml.config import Urls
from ivr.transports.laml.verbs import Document

LRO_RING_TIMEOUT_S = 30
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
    """The document for step ``step`` of the fallback path of a call to ``to_number``."""
    doc = Document()
    if step > 0 and dial_status in ANSWERED_DIAL_STATUSES:
        doc.hangup()  # the previous step connected the caller; the conversation is over
        return doc.to_bytes()
    route = flow.routes.route(to_number) if to_number else None
    if route is not None and route.line == "assistance":
        _assistance(flow, urls, speaker, doc, step, now)
    else:
        departement = route.departement if route is not None else None
        _lro(flow, urls, speaker, doc, departement, step)
    return doc.to_bytes()


def _lro(
    flow: CallFlow,
    urls: Urls,
    speaker: Speaker,
    doc: Document,
    departement: str | None,
    step: int,
) -> None:
    chain = flow.routes.lro(departement if departement in flow.config.departements else None)
    if step >= len(chain):
        speaker.speak(doc, prompts.fixed("lro_failed"))
        doc.hangup()
        return
    if step == 0:
        speaker.speak(doc, prompts.fixed("lro_transfer"))
    dial = doc.dial(timeout_s=LRO_RING_TIMEOUT_S, action=urls.fallback(step + 1))
    doc.number(dial, chain[step].number)


def _assistance(
    flow: CallFlow, urls: Urls, speaker: Speaker, doc: Document, step: int, now: datetime
) -> None:
    support = flow.config.national.support
    if step == 0 and flow.routes.tier2_open(now):
        speaker.speak(doc, prompts.fixed("transfer_tier2"))
        dial = doc.dial(timeout_s=support.ring_timeout_s, action=urls.fallback(1))
        for contact in support.numbers:
            doc.number(dial, contact.number)
        return
    urgent = flow.config.national.urgent_email.prompt
    speaker.speak(doc, prompts.configured("urgent_email", urgent))
    doc.hangup()
