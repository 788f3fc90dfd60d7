"""Internal endpoints of an instance: simulated calls, listener presence, live calls, health.

They drive a serving instance without Asterisk (the multi-instance tests, demos, load
tests) and answer only to the machine itself. ``install(app, services)`` mounts them and
makes sure ``services.node`` runs in the lifespan (start, and a clean stop that hands the
calls over).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from ivr.composition import Services
from ivr.flow.vocabulary import CallStarted
from ivr.runtime.live_state import Presence
from tests.support.simulated import SimScript, SimulatedTransport, redis_ledger

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class SimulatedCallIn(BaseModel):
    to: str
    caller: str | None = Field(default=None, alias="from")
    call_id: str | None = None
    presses: list[str] = []
    digit_delay_s: float = 0.05
    answer_delay_s: float = 0.05
    conversation_s: float = 0.5
    no_answer: list[str] = []
    busy: list[str] = []
    failed: list[str] = []
    hang_up_after_s: float | None = None


class PresenceIn(BaseModel):
    departement: str
    number: str
    presence: Presence


def loopback_only(request: Request) -> None:
    host = request.client.host if request.client else None
    if host not in LOOPBACK:
        raise HTTPException(403, "réservé aux appels depuis la machine elle-même")


def internal_router(services: Services, transport: SimulatedTransport) -> APIRouter:
    router = APIRouter(prefix="/internal", dependencies=[Depends(loopback_only)])
    runtime = services.runtime

    @router.post("/simulate", status_code=202)
    async def simulate(call: SimulatedCallIn) -> dict[str, Any]:
        if not runtime.accepting:
            raise HTTPException(503, "instance en cours d'arrêt : appel refusé")
        call_id = call.call_id or f"sim-{uuid.uuid4().hex[:12]}"
        script = SimScript(
            presses=call.presses,
            digit_delay_s=call.digit_delay_s,
            answer_delay_s=call.answer_delay_s,
            conversation_s=call.conversation_s,
            no_answer=call.no_answer,
            busy=call.busy,
            failed=call.failed,
            hang_up_after_s=call.hang_up_after_s,
        )
        await transport.start_call(CallStarted(call_id, call.to, call.caller), script)
        state = runtime.state(call_id)
        return {
            "call_id": call_id,
            "instance": runtime.instance_id,
            "phase": state.phase.value if state else "ended",
        }

    @router.post("/presence", status_code=204)
    async def presence(change: PresenceIn) -> None:
        await runtime.set_listener_presence(change.departement, change.number, change.presence)

    @router.get("/calls")
    async def calls() -> dict[str, Any]:
        return {
            "instance": runtime.instance_id,
            "calls": [
                {"call_id": call_id, "phase": call.state.phase.value}
                for call_id, call in runtime.calls.items()
            ],
        }

    @router.get("/health")
    async def health() -> dict[str, Any]:
        return services.node.health()

    return router


def install(app: FastAPI, services: Services) -> SimulatedTransport:
    """Mount the internal endpoints and run the node (and the sim ledger) with the app.

    ``Node.start`` and ``Node.stop`` do their work once, so this wrapper also fits an
    application whose own lifespan already runs the node (``ivr.app.create_app`` does)."""
    ledger = None
    close_ledger: Callable[[], Any] | None = None
    if services.settings.redis_url:
        ledger, close_ledger = redis_ledger(
            services.settings.redis_url, f"{services.settings.redis_prefix}sim:ledger"
        )
    transport = SimulatedTransport(services.runtime, services.registry, ledger)
    app.include_router(internal_router(services, transport))
    inner: Callable[[FastAPI], AbstractAsyncContextManager[Any]] = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        async with inner(application) as state:
            await services.node.start()
            try:
                yield state
            finally:
                await services.node.stop()
                if close_ledger is not None:
                    await close_ledger()

    app.router.lifespan_context = lifespan
    return transport
