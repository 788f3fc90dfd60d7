"""A national support agent's post: the phone the assistance line rings (the account's,
or one chosen on the page), presence (also written to the live state: the tier-2 hunt
skips a post whose agents are paused or signed out), and the screen pop of the call
ringing or connected to that phone (found through ``ivr.runtime.queries``, polled by
``static/support.js``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ivr.records import tickets
from ivr.records.models import SupportAgent
from ivr.runtime.queries import Presence
from ivr.web.formatting import CALL_STATUS_LABELS, spaced_number
from ivr.web.routes.checks import SupportCtx, SupportForm, SupportJson
from ivr.web.routes.common import ConsoleRoute, Ctx, see_other
from ivr.web.support_context import TICKET_STATUS_LABELS, TicketInput, screen_pop
from routing.phone import InvalidPhoneNumberError, normalize_number

router = APIRouter(route_class=ConsoleRoute)

AGENT_PRESENCES = {"available": "disponible", "paused": "en pause", "offline": "déconnecté"}
OTHER = "autre"


async def agent_of(ctx: Ctx) -> SupportAgent | None:
    return await ctx.web.db(tickets.agent, ctx.deps.records, ctx.who.login)


def phone_of(ctx: Ctx, agent: SupportAgent | None) -> str | None:
    """The phone the agent works on: the one chosen on the page, else the account's."""
    if agent is not None and agent.phone:
        return agent.phone
    return ctx.who.phone


def nomenclature_of(ctx: Ctx) -> dict[str, Any]:
    """The support nomenclature the screen pop's ticket form offers."""
    return {
        "motifs": ctx.deps.config().national.support_nomenclature,
        "status_labels": TICKET_STATUS_LABELS,
        "form": TicketInput(),
    }


def phone_choices(ctx: Ctx) -> list[tuple[str, str]]:
    """The posts an agent may pick: national support's numbers and the account's phone."""
    choices = [
        (c.number, f"{c.name} ({spaced_number(c.number)})")
        for c in ctx.deps.config().national.support.numbers
    ]
    if ctx.who.phone and ctx.who.phone not in {n for n, _ in choices}:
        choices.append((ctx.who.phone, f"Mon numéro ({spaced_number(ctx.who.phone)})"))
    return choices


async def agent_panel(ctx: Ctx) -> dict[str, Any]:
    """What the support page shows of the agent's post and of the call ringing it."""
    agent = await agent_of(ctx)
    phone = phone_of(ctx, agent)
    call = await ctx.deps.calls.support_call(phone)
    context = await ctx.web.db(screen_pop, ctx.deps, ctx.who, call) if call else None
    presence = agent.presence if agent else "offline"
    return {
        "agent_phone": phone,
        "agent_presence": presence,
        "agent_presence_label": AGENT_PRESENCES.get(presence, presence),
        "presences": AGENT_PRESENCES,
        "phone_choices": phone_choices(ctx),
        "call": context,
    }


@router.post("/support/poste")
async def set_post(posted: SupportForm) -> Response:
    """The agent's phone (a national support post, their own, or another French number)
    and presence."""
    ctx = posted.ctx
    presence = posted.field("presence")
    if presence not in AGENT_PRESENCES:
        return see_other("/support", "Disponibilité non modifiée : choix inconnu.")
    chosen = posted.field("poste")
    if chosen == OTHER:
        try:
            chosen = normalize_number(posted.field("autre_poste"))
        except (InvalidPhoneNumberError, ValueError):
            return see_other(
                "/support",
                "Poste non modifié : le numéro saisi n'est pas un numéro de téléphone valide.",
            )
    elif chosen not in {n for n, _ in phone_choices(ctx)}:
        chosen = ctx.who.phone or ""
    await ctx.web.db(tickets.set_agent, ctx.deps.records, ctx.who.login, chosen or None, presence)
    # The live state every instance's tier-2 hunt reads: a paused or signed-out post is
    # not rung (the row above is what this page shows).
    await ctx.deps.calls.set_support_presence(ctx.who.login, chosen or None, Presence(presence))
    on = " du poste" if presence == "offline" else " sur le poste"
    where = f"{on} {spaced_number(chosen)}" if chosen else " (aucun poste choisi)"
    return see_other("/support", f"Vous êtes {AGENT_PRESENCES[presence]}{where}.")


@router.get("/support/etat.json")
async def support_state(ctx: SupportJson) -> Response:
    """The agent's presence and the call ringing them, for the page's polling (no
    personal data: the context itself comes from ``/support/appel``, audited)."""
    agent = await agent_of(ctx)
    phone = phone_of(ctx, agent)
    call = await ctx.deps.calls.support_call(phone)
    presence = agent.presence if agent else "offline"
    return JSONResponse(
        {
            "presence": presence,
            "presence_label": AGENT_PRESENCES.get(presence, presence),
            "post": bool(phone),
            "call_id": call.call_id if call else None,
            "call_status": CALL_STATUS_LABELS[call.status] if call else None,
            "banner": ctx.web.safe_banner(),
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/support/appel", response_class=HTMLResponse)
async def support_call_fragment(ctx: SupportCtx) -> Response:
    """The screen pop alone (the page's script puts it in place without a reload)."""
    return ctx.render("_support_call.html", **await agent_panel(ctx), **nomenclature_of(ctx))
