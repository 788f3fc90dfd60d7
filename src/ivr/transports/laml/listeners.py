"""The listener's leg of the LaML transport: the outbound call to a listener's phone, answered,
refused or ended, and the ``<Dial><Queue>`` that bridges it to the waiting caller."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ivr.flow.vocabulary import (
    Dial,
    DialOutcome,
    DialResult,
    PeerHungUp,
    StartRecording,
)
from ivr.transports.laml import verbs
from ivr.transports.laml.client import OutboundCall, ProviderError
from ivr.transports.laml.events import (
    Leg,
)
from ivr.transports.laml.schemas import (
    Form,
    call_status_rank,
    dial_outcome,
    query_value,
)
from ivr.transports.laml.sessions import (
    LISTENER_QUEUE_DIAL_TIMEOUT_S,
    CallSession,
    ListenerLeg,
    Query,
    withdrawn_document,
)
from ivr.transports.laml.verbs import Document
from routing.phone import mask_number

if TYPE_CHECKING:
    from ivr.transports.laml.host import LamlHost


log = logging.getLogger(__name__)


class ListenerLegs:
    """A part of ``LamlTransport`` (its methods take the transport as ``self``)."""

    async def listener_answered(self: LamlHost, form: Form, query: Query) -> bytes:
        """The listener picked up: the flow is connected, the leg takes the caller's queue."""
        leg_sid, _ = form.require("CallSid", "AccountSid")
        call_id = query_value(query, "call")
        token = query_value(query, "leg")
        session = self.sessions.get(call_id)
        leg = session.listener if session is not None else None
        if session is None or leg is None or leg.token != token:
            return withdrawn_document()
        async with session.lock:
            if leg.document is not None:
                return leg.document  # a repeat
            if session.flow_ended or session.ended:
                return withdrawn_document()
            leg.answered = True
            leg.sid = leg.sid or leg_sid
            media = await self._handle(session, DialResult(((leg.number, DialOutcome.ANSWERED),)))
            state = self.runtime.state(call_id)
            if state is None or state.summary.connected_to != leg.number:
                return withdrawn_document()
            record = any(isinstance(m, StartRecording) for m in media)
            self._out_of_band(session, media)
            doc = Document()
            dial = doc.dial(
                timeout_s=LISTENER_QUEUE_DIAL_TIMEOUT_S,
                action=self.urls.listener_end(call_id, token),
                record=record,
                recording_callback=self.urls.recording(call_id),
            )
            doc.queue(dial, session.queue_name)
            leg.document = doc.to_bytes()
            return leg.document

    async def listener_status(self: LamlHost, form: Form, query: Query) -> bytes:
        """Status callback of a listener's leg: no answer, busy, failed, or the end."""
        leg_sid, _, status = form.require("CallSid", "AccountSid", "CallStatus")
        call_id = query_value(query, "call")
        token = query_value(query, "leg")
        self._emit_status(call_id, Leg.LISTENER, leg_sid, status, form)
        session = self.sessions.get(call_id)
        leg = session.listener if session is not None else None
        if session is None or leg is None or leg.token != token:
            return verbs.empty()  # an offer the call has left: nothing to change
        rank = call_status_rank(status)
        if rank <= leg.status_rank:
            return verbs.empty()
        leg.status_rank = rank
        leg.sid = leg.sid or leg_sid
        if rank < call_status_rank("completed"):
            return verbs.empty()
        leg.done = True
        async with session.lock:
            if session.flow_ended or session.ended:
                return verbs.empty()
            if leg.answered:
                # The listener left the bridge: the caller's <Enqueue> action will come with
                # "bridged", and get the hang-up the flow answers now.
                self._out_of_band(session, await self._handle(session, PeerHungUp()))
            else:
                # "completed" without an answer: the answer webhook never reached us.
                outcome = DialOutcome.FAILED if status == "completed" else dial_outcome(status)
                event = DialResult(((leg.number, outcome),))
                self._out_of_band(session, await self._handle(session, event))
        return verbs.empty()

    async def listener_ended(self: LamlHost, form: Form, query: Query) -> bytes:
        """The listener's ``<Dial><Queue>`` ended: hang the listener's leg up."""
        form.require("CallSid", "AccountSid")
        call_id = query_value(query, "call")
        status = form.get("DialCallStatus")
        session = self.sessions.get(call_id)
        if status and dial_outcome(status) is not DialOutcome.ANSWERED and session is not None:
            log.error("listener leg of %s found no caller in the queue (%s)", call_id, status)
        return verbs.hangup()

    async def _ring_listener(self: LamlHost, session: CallSession, dial: Dial) -> None:
        target = dial.targets[0]  # the dispatcher offers one listener per call
        state = self.runtime.state(session.call_id)
        leg = ListenerLeg(self.new_token(), target.number, state.departement if state else None)
        session.listener = leg
        call = OutboundCall(
            to=target.number,
            from_=session.called,
            url=self.urls.listener_answer(session.call_id, leg.token),
            status_callback=self.urls.listener_status(session.call_id, leg.token),
            timeout_s=dial.ring_timeout_s,
        )
        try:
            sid = await self.provider.create_call(call)
        except ProviderError as error:
            log.warning(
                "listener %s not called for %s: %s",
                mask_number(target.number),
                session.call_id,
                error,
            )
            leg.done = True
            async with session.lock:
                if not session.flow_ended and not session.ended:
                    event = DialResult(((target.number, DialOutcome.FAILED),))
                    self._out_of_band(session, await self._handle(session, event))
            return
        leg.sid = leg.sid or sid
        if leg.cancel_wanted:
            await self._cancel_leg(leg)  # the caller left while the call was being placed

    async def _cancel_leg(self: LamlHost, leg: ListenerLeg) -> None:
        if leg.sid is None:
            return
        try:
            await self.provider.end_call(leg.sid, answered=leg.answered)
        except ProviderError as error:
            log.warning("listener leg %s not cancelled: %s", leg.sid, error)
