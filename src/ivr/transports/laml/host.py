"""What the parts of ``LamlTransport`` (rendering, listener legs, call-backs) need of it.

The parts are mixins of ``LamlTransport``; each of their methods takes the transport as a
``LamlHost``, the attributes and methods it reads, so that each part is type-checked alone.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from ivr.flow.vocabulary import Dial, Event, Prompt
from ivr.runtime.runtime import CallRuntime, Clock, MediaCommand
from ivr.transports.laml.client import ProviderCalls
from ivr.transports.laml.config import LamlConfig, Urls
from ivr.transports.laml.documents import Speaker
from ivr.transports.laml.events import Leg, ProviderEventSink
from ivr.transports.laml.schemas import Form
from ivr.transports.laml.sessions import CallbackAttempt, CallSession, ListenerLeg, Query
from ivr.transports.laml.verbs import Document


class LamlHost(Protocol):
    runtime: CallRuntime
    config: LamlConfig
    provider: ProviderCalls
    clock: Clock
    events: ProviderEventSink
    urls: Urls
    speaker: Speaker
    new_token: Callable[[], str]
    sessions: OrderedDict[str, CallSession]
    callbacks: OrderedDict[str, CallbackAttempt]
    _menus: dict[tuple[tuple[MediaCommand, ...], int], bytes]

    def _out_of_band(self, session: CallSession, commands: list[MediaCommand]) -> None: ...
    async def _handle(self, session: CallSession, event: Event) -> list[MediaCommand]: ...
    def _abandon(self, session: CallSession) -> bytes: ...
    def _end(self, session: CallSession) -> None: ...
    def _emit_status(self, call_id: str, leg: Leg, sid: str, status: str, form: Form) -> None: ...
    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None: ...
    def _render(self, session: CallSession, media: list[MediaCommand], step: int) -> bytes: ...
    def _render_batch(
        self, session: CallSession, media: list[MediaCommand], step: int
    ) -> bytes: ...
    def _speak_all(self, doc: Document, prompts: list[Prompt]) -> None: ...
    def _dial(self, doc: Document, session: CallSession, dial: Dial, step: int) -> None: ...
    def _records_on_answer(self, session: CallSession, dial: Dial) -> bool: ...
    async def _cancel_leg(self, leg: ListenerLeg) -> None: ...
    def _callback(self, query: Query) -> CallbackAttempt: ...
    def _emit_callback(self, attempt: CallbackAttempt, status: str) -> None: ...
