"""Media commands rendered as LaML documents, each ending on its waiting verb."""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING

from ivr.flow.vocabulary import (
    Answer,
    Dial,
    DialOutcome,
    DialResult,
    Gather,
    Hangup,
    Hold,
    Play,
    Prompt,
    StartRecording,
)
from ivr.runtime.runtime import MediaCommand
from ivr.transports.laml.sessions import (
    MAX_CACHED_MENUS,
    CallSession,
)
from ivr.transports.laml.verbs import Document

if TYPE_CHECKING:
    from ivr.transports.laml.host import LamlHost


log = logging.getLogger(__name__)


class Rendering:
    """A part of ``LamlTransport`` (its methods take the transport as ``self``)."""

    def _render_pending(self: LamlHost, session: CallSession, step: int) -> bytes:
        pending = session.pending or []
        session.pending = None
        return self._render(session, pending, step)

    def _render(
        self: LamlHost, session: CallSession, media: list[MediaCommand], step: int
    ) -> bytes:
        """One document for a batch of media commands, ending on its waiting verb."""
        if (
            media
            and isinstance(media[-1], Gather)
            and all(isinstance(m, Play | Answer) for m in media[:-1])
        ):
            # Menus are the same for every call at the same step: rendered once.
            session.asking = media[-1]
            key = (tuple(media), step)
            cached = self._menus.get(key)
            if cached is None:
                cached = self._render_batch(session, media, step)
                if len(self._menus) >= MAX_CACHED_MENUS:
                    self._menus.clear()
                self._menus[key] = cached
            return cached
        return self._render_batch(session, media, step)

    def _render_batch(
        self: LamlHost, session: CallSession, media: list[MediaCommand], step: int
    ) -> bytes:
        doc = Document()
        plays: list[Prompt] = []
        lead_in: list[Prompt] = []  # interruptible prompts just before a menu
        session.asking = None
        for command in media:
            if isinstance(command, Play):
                if command.interruptible:
                    lead_in.append(command.prompt)
                else:
                    plays.extend(lead_in)
                    lead_in.clear()
                    plays.append(command.prompt)
            elif isinstance(command, Gather):
                # Keys typed during the welcome count for the menu: the provider collects
                # keys only inside a <Gather>, and stops its prompts at the first key.
                self._speak_all(doc, plays)
                session.asking = command
                gather = doc.gather(
                    num_digits=command.max_digits,
                    timeout_s=command.timeout_s,
                    action=self.urls.gather(step),
                )
                for prompt in lead_in:
                    self.speaker.speak(doc, prompt, gather)
                lead_in.clear()
                self.speaker.speak(doc, command.prompt, gather)
                doc.redirect(self.urls.no_input(step))  # a silent caller becomes InputTimedOut
                return doc.to_bytes()
            elif isinstance(command, Dial):
                self._speak_all(doc, plays + lead_in)
                self._dial(doc, session, command, step)
                return doc.to_bytes()
            elif isinstance(command, Hold):
                # The messages before the hold play from the wait URL, once the caller is in
                # the provider's queue: a listener may take the call at any moment.
                session.announcement.extend(plays + lead_in)
                session.in_queue = True
                doc.enqueue(
                    session.queue_name, wait_url=self.urls.wait(), action=self.urls.queue(step)
                )
                return doc.to_bytes()
            elif isinstance(command, Hangup):
                self._speak_all(doc, plays + lead_in)
                doc.hangup()
                self._end(session)
                return doc.to_bytes()
        # No waiting command: the flow has nothing for this request (never expected). The
        # caller must not hear silence: the stateless fallback takes over.
        log.error(
            "call %s: no waiting command in %r; fallback document sent", session.call_id, media
        )
        return self._abandon(session)

    def _speak_all(self: LamlHost, doc: Document, prompts: list[Prompt]) -> None:
        for prompt in prompts:
            self.speaker.speak(doc, prompt)
        prompts.clear()

    def _dial(self: LamlHost, doc: Document, session: CallSession, dial: Dial, step: int) -> None:
        session.dial_step = step
        session.dial_targets = dial.targets
        session.dial_answered = None
        # Forwarding keeps the caller's number by default; an explicit callerId must be one
        # of the account's numbers, so it is only set when the flow presents another one.
        caller_id = dial.caller_id if dial.caller_id not in (None, session.caller) else None
        element = doc.dial(
            timeout_s=dial.ring_timeout_s,
            action=self.urls.dial(step),
            caller_id=caller_id,
            record=self._records_on_answer(session, dial),
            recording_callback=self.urls.recording(session.call_id),
        )
        for target in dial.targets:
            doc.number(
                element,
                target.number,
                url=self.urls.dial_answered(session.call_id, step, target.number),
            )

    def _records_on_answer(self: LamlHost, session: CallSession, dial: Dial) -> bool:
        """Whether the flow will start recording if this dial is answered.

        The flow says so only once the answer is known, but the provider records a bridge
        only when the ``<Dial>`` asks for it: the answer is stepped on a copy of the state.
        """
        state = self.runtime.state(session.call_id)
        if state is None or not dial.targets:
            return False
        probe = copy.deepcopy(state)
        answer = DialResult(((dial.targets[0].number, DialOutcome.ANSWERED),))
        commands = self.runtime.flow.step(probe, answer, self.clock())
        return any(isinstance(c, StartRecording) for c in commands)
