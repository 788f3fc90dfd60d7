"""The LaML transport: provider webhooks become flow events, media commands become verbs.

One inbound call is one session, keyed by the provider's ``CallSid`` (also the flow's call
id). The caller's leg moves by steps: every document the service returns names its step in
the URLs of its actions (``?s=3``), so a repeated request (a provider retry, a proxy replay)
gets the very same document back without touching the flow, and a request for a step the
call has left gets a 409.

Commands produced outside a webhook (timers, listener offers: ``CallTransport.deliver``)
cannot be pushed to the caller, because the provider only runs documents it asked for:

* A queued 115 caller runs the wait URL in a loop (each wait document lasts the hold clip,
  or ``wait_pause_s``). New announcements wait in the session and play at the next loop.
  Anything else (the maximum wait reached, say) is kept as the session's *pending*
  commands, and the next wait document is ``<Leave/>``: the caller leaves the queue, the
  provider requests the ``<Enqueue>`` action, and that answer renders the pending commands.
* A caller anywhere else (never the case with today's flows, whose timers only run in the
  queue) is moved by the REST API: ``Calls/{sid}`` is redirected to ``/laml/resume``, which
  renders the pending commands.

A listener offer becomes an outbound call to the listener's phone through the REST API,
presenting the number the caller dialled. When the listener answers, the flow learns it
and the listener's leg runs ``<Dial><Queue>`` of the caller's own queue (one provider queue
per waiting call, named after it, so the bridge takes exactly the call the flow chose). If
the listener does not answer, the flow puts the call back at the head of the queue; the
caller, who never left the provider's queue, notices nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ivr.flow.engine import CallState
from ivr.flow.vocabulary import (
    Answer,
    CallerHungUp,
    CallStarted,
    Dial,
    DialOutcome,
    DialResult,
    DialTarget,
    DigitsReceived,
    Event,
    Gather,
    Hangup,
    Hold,
    InputTimedOut,
    PeerHungUp,
    Play,
    Role,
    StartRecording,
    StopRecording,
)
from ivr.runtime.commands import decode_media, encode_media
from ivr.runtime.live_state import Presence
from ivr.runtime.runtime import CallRuntime, Clock, MediaCommand, UnknownCallError
from ivr.transports.laml import verbs
from ivr.transports.laml.call_backs import CallBacks
from ivr.transports.laml.client import ProviderCalls, ProviderError
from ivr.transports.laml.config import LamlConfig, Urls
from ivr.transports.laml.documents import Speaker, fallback_document
from ivr.transports.laml.eager import Finished, start_eagerly
from ivr.transports.laml.events import (
    CallStatusUpdate,
    Leg,
    MemoryProviderEvents,
    ProviderEventSink,
    RecordingUpdate,
)
from ivr.transports.laml.listeners import ListenerLegs
from ivr.transports.laml.rendering import Rendering
from ivr.transports.laml.schemas import (
    RECORDING_STATUS_RANK,
    Form,
    WebhookError,
    call_status_rank,
    caller_gone,
    dial_outcome,
    phone_number,
    query_step,
    query_value,
    unknown_call,
)
from ivr.transports.laml.sessions import (
    ANY_STEP,
    INTERRUPTIBLE_PROMPTS,
    MAX_ENDED,
    MAX_REMEMBERED_RECORDINGS,
    MAX_SESSIONS,
    WAITING_PHASES,
    CallbackAttempt,
    CallSession,
    ListenerLeg,
    OverBudgetError,
    Query,
    int_or_none,
    random_token,
    rfc2822_or_none,
)
from ivr.transports.laml.verbs import Document

log = logging.getLogger(__name__)


class LamlTransport(ListenerLegs, CallBacks, Rendering):
    """Webhooks of Twilio or SignalWire in, LaML documents and REST calls out."""

    def __init__(
        self,
        runtime: CallRuntime,
        config: LamlConfig,
        provider: ProviderCalls,
        clock: Clock,
        events: ProviderEventSink | None = None,
        new_token: Callable[[], str] = random_token,
    ) -> None:
        self.runtime = runtime
        self.config = config
        self.provider = provider
        self.clock = clock
        # Told each webhook's name and handling time in seconds (the metrics), when set.
        self.on_webhook_handled: Callable[[str, float], None] | None = None
        self.events: ProviderEventSink = events or MemoryProviderEvents()
        self.urls = Urls(config.public_base_url)
        self.speaker = Speaker(config.prompts_base_url, config.say_voice)
        self.new_token = new_token
        self.sessions: OrderedDict[str, CallSession] = OrderedDict()
        # Finished calls, by the rank of their last status: a string and an int each, so
        # that they weigh nothing on the garbage collector.
        self._ended: OrderedDict[str, int] = OrderedDict()
        self.callbacks: OrderedDict[str, CallbackAttempt] = OrderedDict()
        self._recordings: OrderedDict[str, int] = OrderedDict()
        self._menus: dict[tuple[tuple[MediaCommand, ...], int], bytes] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # ================================================================= caller's leg

    async def incoming(self, form: Form, query: Query) -> bytes:
        """``POST /laml/voice``: a call arrives; the document asks or routes, as the flow says."""
        call_id, _, to_raw = form.require("CallSid", "AccountSid", "To")
        if call_id in self._ended:
            return verbs.hangup()
        session = self.sessions.get(call_id)
        if session is not None:  # the same call posted twice
            async with session.lock:
                first = session.replies.get(("voice", 0))
            if first is None:
                raise WebhookError(409, f"Appel déjà en cours : {call_id}")
            return first
        called = phone_number(to_raw) or to_raw
        session = CallSession(call_id, called, phone_number(form.get("From")))
        self._add_session(session)
        async with session.lock:
            event = CallStarted(call_id, called, session.caller)
            try:
                media = await self._within_budget(session, self.runtime.start_call(event, self))
            except OverBudgetError:
                return session.remember("voice", 0, self._abandon(session))
            return session.remember("voice", 0, self._render(session, media, 1))

    async def gather(self, form: Form, query: Query) -> bytes:
        """``<Gather>`` action: the digits typed (none when only # was pressed)."""

        async def produce(session: CallSession, step: int) -> bytes:
            typed = form.get("Digits") or ""
            menu = session.asking
            if "*" in typed and menu is not None and session.pending is None:
                # "*" starts the answer again: what follows it counts; nothing follows, the
                # question is asked again (the flow is not stepped for either).
                rest = typed.rsplit("*", 1)[1]
                if len(rest) < menu.max_digits:
                    session.partial = rest
                    return self._ask_again(session, menu, step, heard=not rest)
                typed = rest
            digits = (session.partial + typed).replace("*", "")
            session.partial = ""
            event: Event = DigitsReceived(digits) if digits else InputTimedOut()
            return await self._advance(session, step, [event])

        return await self._caller_step("gather", form, query, produce)

    def _ask_again(self, session: CallSession, menu: Gather, step: int, heard: bool) -> bytes:
        """The same menu, its question again (``heard``) or just the digits still missing."""
        doc = Document()
        gather = doc.gather(
            num_digits=max(1, menu.max_digits - len(session.partial)),
            timeout_s=menu.inter_digit_timeout_s if session.partial else menu.timeout_s,
            action=self.urls.gather(step),
        )
        if heard:
            self.speaker.speak(doc, menu.prompt, gather)
        doc.redirect(self.urls.no_input(step))
        return doc.to_bytes()

    async def no_input(self, form: Form, query: Query) -> bytes:
        """The ``<Redirect>`` after a ``<Gather>`` that timed out."""

        async def produce(session: CallSession, step: int) -> bytes:
            partial, session.partial = session.partial, ""
            event: Event = DigitsReceived(partial) if partial else InputTimedOut()
            return await self._advance(session, step, [event])

        return await self._caller_step("no-input", form, query, produce)

    async def dial_ended(self, form: Form, query: Query) -> bytes:
        """``<Dial>`` action: the dialled party did not answer, or the conversation is over."""
        (status,) = form.require("DialCallStatus")
        outcome = dial_outcome(status)

        async def produce(session: CallSession, next_step: int) -> bytes:
            this_dial = session.dial_step in (next_step - 1, ANY_STEP)
            events: list[Event]
            if caller_gone(form):
                events = [CallerHungUp()]
            elif this_dial and session.dial_answered is not None:
                events = [PeerHungUp()]  # the answer came through the whisper URL
            else:
                targets = session.dial_targets if this_dial else ()
                if not targets:
                    raise WebhookError(409, f"Aucune numérotation en cours pour {session.call_id}")
                if outcome is DialOutcome.ANSWERED:  # answered, but no whisper reached us
                    answered = self._answered_result(targets, targets[0].number)
                    events = [answered, PeerHungUp()]
                else:
                    events = [DialResult(tuple((t.number, outcome) for t in targets))]
            return await self._advance(session, next_step, events)

        return await self._caller_step("dial", form, query, produce)

    async def dial_answered(self, form: Form, query: Query) -> bytes:
        """``<Number url>``: runs on the answering party's leg just before the bridge.

        It tells who answered (several numbers may ring together) and when, so the flow is
        connected at the right moment whatever order the later callbacks come in. The empty
        document lets the bridge proceed at once.
        """
        form.require("CallSid", "AccountSid")
        call_id = query_value(query, "call")
        step = query_step(query)
        number = query_value(query, "n")
        session = await self._find(call_id)
        async with session.lock:
            if (
                session.dial_step not in (step, ANY_STEP)
                or session.dial_answered is not None
                or session.ended
            ):
                return verbs.empty()  # a repeat, or a dial the call has left
            if number not in {t.number for t in session.dial_targets}:
                raise WebhookError(400, f"Numéro non composé pour cet appel : {number}")
            session.dial_answered = number
            event = self._answered_result(session.dial_targets, number)
            self._out_of_band(session, await self._handle(session, event))
        return verbs.empty()

    async def queue_left(self, form: Form, query: Query) -> bytes:
        """``<Enqueue>`` action: the caller left the provider's queue, and why."""
        (result,) = form.require("QueueResult")

        async def produce(session: CallSession, step: int) -> bytes:
            session.in_queue = False
            if session.pending is not None:
                return self._render_pending(session, step)
            if result == "bridged":
                # Sent once both parties of the bridge have left it.
                event: Event = CallerHungUp() if caller_gone(form) else PeerHungUp()
                return await self._advance(session, step, [event])
            if result == "hangup" or caller_gone(form):
                return await self._advance(session, step, [CallerHungUp()])
            if result in ("leave", "redirected", "redirected-from-bridged"):
                state = self.runtime.state(session.call_id)
                if state is not None and state.phase in WAITING_PHASES:
                    return self._render(session, [Hold()], step)  # back in the queue
            log.error("call %s left the provider queue (%s): fallback", session.call_id, result)
            return self._abandon(session)

        return await self._caller_step("queue", form, query, produce)

    async def redirected(self, form: Form, query: Query) -> bytes:
        """Where a REST redirect sends a caller: the commands that waited for them."""

        async def produce(session: CallSession, step: int) -> bytes:
            if session.pending is not None:
                return self._render_pending(session, step)
            state = self.runtime.state(session.call_id)
            if state is not None and state.phase in WAITING_PHASES:
                return self._render(session, [Hold()], step)
            return self._abandon(session)

        return await self._caller_step("resume", form, query, produce)

    async def wait(self, form: Form, query: Query) -> bytes:
        """The ``<Enqueue>`` wait URL, requested again each time its document ends."""
        (call_id,) = form.require("CallSid")
        session = await self._find(call_id)
        if session.ended:
            return verbs.hangup()
        if session.pending is not None or session.flow_ended:
            return verbs.leave()
        session.in_queue = True
        session.queue_sid = form.get("QueueSid") or session.queue_sid
        doc = Document()
        interruptible = [p for p in session.announcement if p.id in INTERRUPTIBLE_PROMPTS]
        for prompt in session.announcement:
            if prompt.id not in INTERRUPTIBLE_PROMPTS:
                self.speaker.speak(doc, prompt)
        session.announcement = []
        gather = doc.gather(num_digits=1, timeout_s=1, action=self.urls.wait_digits())
        for prompt in interruptible:
            self.speaker.speak(doc, prompt, gather)
        if self.config.hold_music_url:
            doc.play(self.config.hold_music_url, gather)
        else:
            doc.pause(self.config.wait_pause_s, gather)
        return doc.to_bytes()

    async def wait_digits(self, form: Form, query: Query) -> bytes:
        """A key pressed while waiting in the queue (1: be called back)."""
        (call_id,) = form.require("CallSid")
        session = await self._find(call_id)
        async with session.lock:
            if session.ended:
                return verbs.hangup()
            digits = form.get("Digits")
            if digits and session.pending is None and not session.flow_ended:
                self._out_of_band(session, await self._handle(session, DigitsReceived(digits)))
            if session.pending is not None or session.flow_ended:
                return verbs.leave()
        doc = Document()
        doc.redirect(self.urls.wait())
        return doc.to_bytes()

    async def fallback(self, form: Form, query: Query) -> bytes:
        """``POST /laml/fallback``: the document of last resort; needs only the configuration."""
        raw_step = query.get("step", "0")
        step = int(raw_step) if raw_step.isdigit() else 0
        call_id = form.get("CallSid")
        session = self.sessions.get(call_id) if call_id else None
        if session is not None and not session.ended:
            log.error(
                "call %s handed to the provider fallback (ErrorCode=%s, ErrorUrl=%s)",
                call_id,
                form.get("ErrorCode"),
                form.get("ErrorUrl"),
            )
            self._give_up(session)
        to = phone_number(form.get("To"))
        return fallback_document(
            self.runtime.flow,
            self.urls,
            self.speaker,
            to,
            step,
            form.get("DialCallStatus") or None,
            self.clock(),
        )

    # ================================================================= status callbacks

    async def call_status(self, form: Form, query: Query) -> bytes:
        """The caller's call status callback (configured on the provider's numbers)."""
        call_id, _, status = form.require("CallSid", "AccountSid", "CallStatus")
        session = await self._find(call_id)
        rank = call_status_rank(status)
        if rank <= session.status_rank:
            return verbs.empty()  # a repeat, or older news than what we know
        session.status_rank = rank
        if call_id in self._ended:
            self._ended[call_id] = rank
        self._emit_status(call_id, Leg.CALLER, call_id, status, form)
        if rank == call_status_rank("completed"):
            async with session.lock:
                if not session.flow_ended:
                    await self._handle(session, CallerHungUp())
                self._end(session)
        return verbs.empty()

    async def recording_status(self, form: Form, query: Query) -> bytes:
        """``recordingStatusCallback``: the recording's metadata, for the records."""
        form.require("AccountSid")
        recording_sid, status = form.require("RecordingSid", "RecordingStatus")
        call_id = query.get("call") or form.get("CallSid")
        if not call_id:
            raise WebhookError(400, "Paramètre manquant dans l'URL : call")
        # Accepted even for a call this process does not hold any more: the metadata of a
        # recording must never be lost (retention and access are audited).
        rank = RECORDING_STATUS_RANK.get(status, -1)
        if rank <= self._recordings.get(recording_sid, -1):
            return verbs.empty()
        self._recordings[recording_sid] = rank
        self._recordings.move_to_end(recording_sid)
        while len(self._recordings) > MAX_REMEMBERED_RECORDINGS:
            self._recordings.popitem(last=False)
        update = RecordingUpdate(
            call_id=call_id,
            recording_sid=recording_sid,
            status=status,
            url=form.get("RecordingUrl") or None,
            duration_s=int_or_none(form.get("RecordingDuration")),
            channels=int_or_none(form.get("RecordingChannels")),
            started_at=rfc2822_or_none(form.get("RecordingStartTime")),
            at=self.clock(),
        )
        self._spawn(self.events.recording(update))
        return verbs.empty()

    # ================================================================= listener's leg

    # ================================================================= call-backs

    # ================================================================= CallTransport

    async def deliver(self, call_id: str, commands: list[MediaCommand]) -> None:
        """Commands for a call produced outside its webhooks (timers, listener offers)."""
        session = self.sessions.get(call_id)
        if session is None or session.ended:
            log.info("commands for call %s dropped: the call is not on this transport", call_id)
            return
        self._out_of_band(session, commands)

    # ----------------------------------------------------------------- other instances

    def call_data(self, call_id: str) -> dict[str, Any]:
        """What another instance needs to carry the call on (saved with the call's snapshot).

        Saved when the runtime steps the call, before this webhook's document is rendered:
        the step itself is not saved, the resumed session takes the next one it is shown.
        """
        session = self.sessions.get(call_id)
        if session is None:
            return {}
        leg = session.listener
        return {
            "called": session.called,
            "caller": session.caller,
            "in_queue": session.in_queue,
            "queue_sid": session.queue_sid,
            "dial_answered": session.dial_answered,
            "announcement": [encode_media(Play(p)) for p in session.announcement],
            "pending": [encode_media(c) for c in session.pending or []],
            "listener": None
            if leg is None
            else {
                "token": leg.token,
                "number": leg.number,
                "departement": leg.departement,
                "sid": leg.sid,
                "answered": leg.answered,
            },
        }

    async def resume(
        self, call_id: str, state: CallState, commands: list[MediaCommand], data: dict[str, Any]
    ) -> None:
        """Carry on a call another instance held: the provider still runs the document that
        instance sent, and its next request comes here."""
        session = CallSession(call_id, data.get("called", state.called), data.get("caller"))
        if "caller" not in data:
            session.caller = state.caller
        session.step = ANY_STEP
        session.in_queue = bool(data.get("in_queue"))
        session.queue_sid = data.get("queue_sid")
        session.dial_answered = data.get("dial_answered")
        session.announcement = [
            p.prompt for p in map(decode_media, data.get("announcement", [])) if isinstance(p, Play)
        ]
        pending = [decode_media(raw) for raw in data.get("pending", [])]
        session.pending = pending or None
        leg = data.get("listener")
        if leg is not None:
            session.listener = ListenerLeg(
                leg["token"],
                leg["number"],
                leg.get("departement"),
                sid=leg["sid"],
                answered=leg["answered"],
            )
        waiting = commands[-1] if commands else None
        if isinstance(waiting, Dial):
            session.dial_step = ANY_STEP
            session.dial_targets = waiting.targets
        elif isinstance(waiting, Hold):
            session.in_queue = True
        self._add_session(session)

    def detach(self, call_id: str) -> None:
        """Another instance holds the call now: forget it here, without hanging up."""
        self.sessions.pop(call_id, None)

    def _out_of_band(self, session: CallSession, commands: list[MediaCommand]) -> None:
        media: list[MediaCommand] = [
            c for c in commands if not isinstance(c, Answer | StartRecording | StopRecording)
        ]
        if any(isinstance(c, Hangup) for c in media):
            self._flow_ended(session)
        if not media:
            return
        last = media[-1]
        plays = [c.prompt for c in media if isinstance(c, Play)]
        if isinstance(last, Dial) and all(t.role is Role.LISTENER for t in last.targets):
            session.announcement.extend(plays)
            self._spawn(self._ring_listener(session, last))
        elif isinstance(last, Hold) and session.in_queue:
            session.announcement.extend(plays)
        else:
            session.pending = media
            session.announcement = []
            if not session.in_queue:
                self._spawn(self._redirect(session))

    async def _redirect(self, session: CallSession) -> None:
        try:
            await self.provider.redirect_call(session.call_id, self.urls.resume(session.step))
        except ProviderError as error:
            log.error("call %s could not be redirected to its commands: %s", session.call_id, error)

    # ================================================================= plumbing

    async def _find(self, call_id: str) -> CallSession:
        """The call's session; a call another instance holds is moved here first."""
        session = self.sessions.get(call_id)
        if session is None:
            rank = self._ended.get(call_id)
            if rank is not None:  # finished: a stand-in that answers as a finished call does
                return CallSession(call_id, "", None, flow_ended=True, ended=True, status_rank=rank)
            if await self.runtime.adopt(call_id):
                session = self.sessions.get(call_id)  # restored by ``resume``
        if session is None:
            raise unknown_call(call_id)
        return session

    def _add_session(self, session: CallSession) -> None:
        self.sessions[session.call_id] = session
        while len(self.sessions) > MAX_SESSIONS:
            call_id, _ = self.sessions.popitem(last=False)
            log.warning("call %s forgotten: never ended by the provider", call_id)

    async def _caller_step(
        self,
        route: str,
        form: Form,
        query: Query,
        produce: Callable[[CallSession, int], Awaitable[bytes]],
    ) -> bytes:
        call_id, _ = form.require("CallSid", "AccountSid")
        step = query_step(query)
        session = await self._find(call_id)
        async with session.lock:
            repeated = session.replies.get((route, step))
            if repeated is not None:
                return repeated
            if session.ended:
                return verbs.hangup()
            if session.step == ANY_STEP:
                session.step = step  # resumed here: the provider says where the call is
            if step != session.step:
                raise WebhookError(
                    409,
                    f"Étape périmée pour l'appel {call_id} : {step} (en cours : {session.step})",
                )
            try:
                document = await produce(session, step + 1)
            except OverBudgetError:
                document = self._abandon(session)
            return session.remember(route, step, document)

    async def _advance(self, session: CallSession, step: int, events: list[Event]) -> bytes:
        """Feed the events in order and render what the flow answers."""
        if session.pending is not None:
            # The flow moved on meanwhile (a timer): what it said then is what the caller
            # needs now; the event belongs to a state the flow has left.
            return self._render_pending(session, step)
        media: list[MediaCommand] = []
        for event in events:
            if session.flow_ended:
                break
            media += await self._within_budget(session, self._handle(session, event))
        if not media and session.flow_ended:
            self._end(session)
            return verbs.hangup()
        return self._render(session, media, step)

    async def _handle(self, session: CallSession, event: Event) -> list[MediaCommand]:
        try:
            media = await self.runtime.handle(session.call_id, event)
        except UnknownCallError:
            self._flow_ended(session)
            return []
        if any(isinstance(m, Hangup) for m in media):
            self._flow_ended(session)
        return media

    async def _within_budget(
        self, session: CallSession, work: Coroutine[Any, Any, list[MediaCommand]]
    ) -> list[MediaCommand]:
        """The runtime's answer, or ``OverBudgetError`` when it is too slow for a webhook.

        The work is not cancelled (that could leave the call half-updated): it finishes in
        the background, and the call is handed to the fallback path.
        """
        task = start_eagerly(work)
        if isinstance(task, Finished):
            return task.value  # it never waited (in-process state): no task, no timer
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()

        def wake(_: object = None) -> None:
            if not waiter.done():
                waiter.set_result(None)

        task.add_done_callback(wake)
        timer = loop.call_later(self.config.webhook_budget_s, wake)
        try:
            await waiter
        finally:
            timer.cancel()
            task.remove_done_callback(wake)
        if task.done():
            return task.result()
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        log.error(
            "call %s: the runtime took more than %.1f s; fallback document sent",
            session.call_id,
            self.config.webhook_budget_s,
        )
        raise OverBudgetError(session.call_id)

    @staticmethod
    def _answered_result(targets: tuple[DialTarget, ...], number: str) -> DialResult:
        others = tuple((t.number, DialOutcome.NO_ANSWER) for t in targets if t.number != number)
        return DialResult(((number, DialOutcome.ANSWERED), *others))

    def _abandon(self, session: CallSession) -> bytes:
        """Send the caller down the fallback path (LRO), and release the flow's call."""
        self._give_up(session)
        return fallback_document(
            self.runtime.flow, self.urls, self.speaker, session.called, 0, None, self.clock()
        )

    def _give_up(self, session: CallSession) -> None:
        if not session.flow_ended:
            # The provider now follows the fallback document: the flow's call is over for us.
            self._spawn(self._handle(session, CallerHungUp()))
        self._end(session)

    def _flow_ended(self, session: CallSession) -> None:
        session.flow_ended = True
        leg = session.listener
        if leg is not None and not leg.answered and not leg.done:
            # The caller left while the listener's phone rings: stop it, and make the
            # listener available again (the dispatcher had marked them busy for this call).
            leg.done = True
            if leg.sid is None:
                leg.cancel_wanted = True
            else:
                self._spawn(self._cancel_leg(leg))
            if leg.departement is not None:
                self._spawn(
                    self.runtime.set_listener_presence(
                        leg.departement, leg.number, Presence.AVAILABLE
                    )
                )

    def _end(self, session: CallSession) -> None:
        if session.ended:
            return
        session.ended = True
        self._flow_ended(session)
        if session.queue_sid is not None:
            self._spawn(self._delete_queue(session.queue_sid))
        if self.sessions.get(session.call_id) is session:
            del self.sessions[session.call_id]
        self._ended[session.call_id] = session.status_rank
        while len(self._ended) > MAX_ENDED:
            self._ended.popitem(last=False)

    def has_ended(self, call_id: str) -> bool:
        """Whether the call is over as far as this transport knows."""
        return call_id in self._ended

    async def _delete_queue(self, queue_sid: str) -> None:
        try:
            await self.provider.delete_queue(queue_sid)
        except ProviderError as error:
            log.info("queue %s not deleted: %s", queue_sid, error)

    def _emit_status(self, call_id: str, leg: Leg, sid: str, status: str, form: Form) -> None:
        update = CallStatusUpdate(
            call_id=call_id,
            leg=leg,
            provider_sid=sid,
            status=status,
            duration_s=int_or_none(form.get("CallDuration")),
            at=self.clock(),
        )
        self._spawn(self.events.call_status(update))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("LaML background task failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for the background work (REST calls, sink writes): tests, clean shutdown."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
