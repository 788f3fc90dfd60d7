"""Call-backs placed through the provider: the caller rung back, answered, then connected."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ivr.flow.vocabulary import (
    DialOutcome,
)
from ivr.transports.laml import verbs
from ivr.transports.laml.client import OutboundCall, ProviderError
from ivr.transports.laml.events import (
    CallbackUpdate,
    Leg,
)
from ivr.transports.laml.schemas import (
    Form,
    WebhookError,
    call_status_rank,
    caller_gone,
    dial_outcome,
    query_value,
)
from ivr.transports.laml.sessions import (
    CALLBACK_RING_TIMEOUT_S,
    MAX_ENDED,
    CallbackAttempt,
    Query,
)
from ivr.transports.laml.verbs import Document

if TYPE_CHECKING:
    from ivr.transports.laml.host import LamlHost


log = logging.getLogger(__name__)


class CallBacks:
    """A part of ``LamlTransport`` (its methods take the transport as ``self``)."""

    async def place_callback(self: LamlHost, departement: str, listener: str, person: str) -> str:
        """Ring ``listener``; when they answer, call ``person`` presenting 0 800 112 112.

        Returns the call-back's id; raises ``ProviderError`` when the provider refused.
        """
        dep = self.runtime.flow.config.departement(departement)
        if dep is None:
            raise ValueError(f"unknown département {departement!r}")
        attempt = CallbackAttempt(self.new_token(), departement, listener, person)
        self.callbacks[attempt.callback_id] = attempt
        while len(self.callbacks) > MAX_ENDED:
            self.callbacks.popitem(last=False)
        call = OutboundCall(
            to=listener,
            from_=dep.line_115.inbound_numbers[0],
            url=self.urls.callback_answer(attempt.callback_id),
            status_callback=self.urls.callback_status(attempt.callback_id),
            timeout_s=CALLBACK_RING_TIMEOUT_S,
        )
        try:
            attempt.sid = await self.provider.create_call(call)
        except ProviderError:
            self._emit_callback(attempt, "listener-unreachable")
            raise
        self._emit_callback(attempt, "placed")
        return attempt.callback_id

    async def callback_answered(self: LamlHost, form: Form, query: Query) -> bytes:
        form.require("CallSid", "AccountSid")
        attempt = self._callback(query)
        doc = Document()
        doc.say("Rappel en cours. Ne raccrochez pas.", self.config.say_voice)
        dial = doc.dial(
            timeout_s=CALLBACK_RING_TIMEOUT_S,
            action=self.urls.callback_result(attempt.callback_id),
            caller_id=self.config.callback_caller_id
            or self.runtime.flow.config.national.callback_number,
        )
        doc.number(dial, attempt.person)
        return doc.to_bytes()

    async def callback_result(self: LamlHost, form: Form, query: Query) -> bytes:
        form.require("CallSid", "AccountSid")
        (status,) = form.require("DialCallStatus")
        attempt = self._callback(query)
        outcome = dial_outcome(status)
        if attempt.result is None:
            attempt.result = "connected" if outcome is DialOutcome.ANSWERED else outcome.value
            self._emit_callback(attempt, attempt.result)
        doc = Document()
        if outcome is not DialOutcome.ANSWERED and not caller_gone(form):
            why = {
                DialOutcome.BUSY: "la ligne est occupée",
                DialOutcome.NO_ANSWER: "la personne n'a pas répondu",
            }.get(outcome, "l'appel n'a pas pu être établi")
            doc.say(f"Le rappel n'a pas abouti : {why}.", self.config.say_voice)
        doc.hangup()
        return doc.to_bytes()

    async def callback_status(self: LamlHost, form: Form, query: Query) -> bytes:
        leg_sid, _, status = form.require("CallSid", "AccountSid", "CallStatus")
        attempt = self._callback(query)
        rank = call_status_rank(status)
        if rank <= attempt.status_rank:
            return verbs.empty()
        attempt.status_rank = rank
        self._emit_status(attempt.callback_id, Leg.CALLBACK, leg_sid, status, form)
        if status in ("busy", "no-answer", "failed", "canceled") and attempt.result is None:
            attempt.result = "listener-unreachable"
            self._emit_callback(attempt, attempt.result)
        return verbs.empty()

    def _callback(self: LamlHost, query: Query) -> CallbackAttempt:
        callback_id = query_value(query, "cb")
        attempt = self.callbacks.get(callback_id)
        if attempt is None:
            raise WebhookError(404, f"Rappel inconnu : {callback_id}")
        return attempt

    def _emit_callback(self: LamlHost, attempt: CallbackAttempt, status: str) -> None:
        update = CallbackUpdate(
            callback_id=attempt.callback_id,
            departement=attempt.departement,
            listener=attempt.listener,
            person=attempt.person,
            status=status,
            at=self.clock(),
        )
        self._spawn(self.events.callback(update))
