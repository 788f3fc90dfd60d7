"""National support (tier 2): the inbox of tickets (escalations of referents, overflowed
calls, calls answered), each ticket's page, and the ticket forms (motif and sub-motif from
the routing file's support nomenclature, note, status, standard answers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from ivr.records import tickets
from ivr.records.models import (
    EscalationStatus,
    SupportTicket,
    TicketSource,
    TicketStatus,
)
from ivr.records.tickets import TicketFields, TicketFilter
from ivr.web import queries
from ivr.web.accounts import display_names
from ivr.web.formatting import ESCALATION_LABELS, escalation_reasons
from ivr.web.routes.checks import Posted, SupportCtx, SupportForm
from ivr.web.routes.common import ConsoleRoute, Ctx, see_other
from ivr.web.routes.params import RecordId
from ivr.web.routes.support_agent import agent_panel
from ivr.web.support_context import (
    TICKET_SOURCE_LABELS,
    TICKET_STATUS_LABELS,
    TicketInput,
    check_ticket,
    departement_text,
    reason_text,
)
from routing.departements import BY_CODE

router = APIRouter(route_class=ConsoleRoute)

OVERFLOW_DAYS = 14
FROM_ESCALATION = {
    EscalationStatus.OPEN: TicketStatus.NEW,
    EscalationStatus.IN_PROGRESS: TicketStatus.IN_PROGRESS,
    EscalationStatus.CLOSED: TicketStatus.CLOSED,
}


def nomenclature(ctx: Ctx) -> dict[str, Any]:
    """The support nomenclature and labels every ticket form needs."""
    national = ctx.deps.config().national
    return {
        "motifs": national.support_nomenclature,
        "motif_labels": {m.code: m.label for m in national.support_nomenclature},
        "sub_motif_labels": {
            (m.code, s.code): s.label for m in national.support_nomenclature for s in m.sub_motifs
        },
        "status_labels": TICKET_STATUS_LABELS,
        "source_labels": TICKET_SOURCE_LABELS,
        "departement_text": departement_text,
    }


def ticket_input(posted: Posted) -> TicketInput:
    return TicketInput(
        motif=posted.field("motif"),
        sub_motif=posted.field("sous_motif"),
        note=posted.field("note"),
        status=posted.field("statut") or TicketStatus.NEW.value,
        answer=posted.field("reponse_type"),
    )


def fields_of(form: TicketInput) -> TicketFields:
    return TicketFields(
        form.motif or None, form.sub_motif or None, form.note, TicketStatus(form.status)
    )


# --------------------------------------------------------------------------- the inbox


async def render_inbox(
    ctx: Ctx,
    where: TicketFilter,
    *,
    info: str = "",
    form: TicketInput | None = None,
    posted_call: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    records = ctx.deps.records
    rows = await ctx.web.db(tickets.tickets, records, where)
    since = ctx.deps.clock() - timedelta(days=OVERFLOW_DAYS)
    overflowed = await ctx.web.db(queries.overflowed_calls, records, since)
    call_ids = sorted({t.call_id for t in rows if t.call_id})
    callers = await ctx.web.db(queries.callers_of, records, call_ids)
    if callers:
        await ctx.audit("read", "ticket_callers", None, appels=sorted(callers))
    if overflowed:
        await ctx.audit("read", "overflow_callers", None, appels=[c.call_id for c in overflowed])
    return ctx.render(
        "support.html",
        status_code=status_code,
        tickets=rows,
        names=await ctx.web.db(display_names, records, (t.updated_by for t in rows)),
        callers=callers,
        overflowed=overflowed,
        counts=await ctx.web.db(tickets.count_by_status, records),
        where=where,
        departements=sorted(BY_CODE),
        info=info,
        form=form or TicketInput(),
        posted_call=posted_call or {},
        reason_text=lambda code: reason_text(ctx.deps.config(), code),
        **await agent_panel(ctx),
        **nomenclature(ctx),
    )


@router.get("/support", response_class=HTMLResponse)
async def support_page(
    ctx: SupportCtx, statut: str = "", motif: str = "", dep: str = "", info: str = ""
) -> Response:
    where = TicketFilter(
        status=statut if statut in TICKET_STATUS_LABELS else None,
        motif=motif if ctx.deps.config().national.support_motif(motif) else None,
        departement=dep if dep in BY_CODE else None,
    )
    return await render_inbox(ctx, where, info=info)


@router.post("/support/fiches")
async def create_ticket(posted: SupportForm) -> Response:
    """The screen pop's ticket: the outcome of the call the agent answered."""
    ctx = posted.ctx
    form = check_ticket(ctx.deps.config(), ticket_input(posted))
    if form.errors:
        return await render_inbox(
            ctx,
            TicketFilter(),
            info="Fiche non enregistrée : corrigez les champs signalés.",
            form=form,
            posted_call={
                name: posted.field(name)[:128] for name in ("call_id", "dep", "motif_menu")
            },
            status_code=422,
        )
    call_id = posted.field("call_id")[:128] or None
    departement = posted.field("dep")
    menu_reason = posted.field("motif_menu")
    ticket_id = await ctx.web.db(
        tickets.open_ticket,
        ctx.deps.records,
        source=TicketSource.CALL,
        by=ctx.who.login,
        fields=fields_of(form),
        call_id=call_id,
        departement=departement if departement in BY_CODE else None,
        menu_reason=menu_reason if ctx.deps.config().national.reason(menu_reason) else None,
    )
    return see_other(f"/support/fiches/{ticket_id}", f"Fiche n° {ticket_id} enregistrée.")


@router.post("/support/debordements/{call_id}")
async def overflow_ticket(posted: SupportForm, call_id: str) -> Response:
    """Open a ticket for an overflowed call nobody answered (to call the person back)."""
    ctx = posted.ctx
    call = await ctx.web.db(queries.recorded_call, ctx.deps.records, call_id[:128])
    if call is None or call.line != "assistance":
        raise ctx.error(404, "Appel introuvable", "Aucun appel d'assistance sous cette référence.")
    ticket_id = await ctx.web.db(
        tickets.open_ticket,
        ctx.deps.records,
        source=TicketSource.OVERFLOW,
        by=ctx.who.login,
        fields=TicketFields(None, None, "", TicketStatus.NEW),
        call_id=call.call_id,
        departement=call.departement,
        menu_reason=call.reason,
    )
    return see_other(f"/support/fiches/{ticket_id}", f"Fiche n° {ticket_id} ouverte.")


# --------------------------------------------------------------------------- one ticket


async def render_ticket(
    ctx: Ctx, found: SupportTicket, *, info: str = "", form: TicketInput | None = None
) -> Response:
    records = ctx.deps.records
    caller = None
    earlier: list[Any] = []
    call = None
    if found.call_id:
        call = await ctx.web.db(queries.recorded_call, records, found.call_id)
        caller = call.caller if call else None
        if caller:
            earlier = await ctx.web.db(queries.calls_from, records, caller, exclude=found.call_id)
        await ctx.audit("read", "ticket", str(found.id), appel=found.call_id)
    escalation = (
        await ctx.web.db(queries.escalation, records, found.escalation_id)
        if found.escalation_id
        else None
    )
    if form is None:
        form = TicketInput(found.motif or "", found.sub_motif or "", found.note, found.status)
    authors = [found.created_by, found.updated_by]
    if escalation is not None:
        authors.append(escalation.created_by)
    return ctx.render(
        "ticket.html",
        status_code=422 if form.errors else 200,
        ticket=found,
        names=await ctx.web.db(display_names, records, authors),
        call=call,
        caller=caller,
        earlier=earlier,
        escalation=escalation,
        escalation_reasons=escalation_reasons(ctx.deps.config()),
        reason_text=reason_text(ctx.deps.config(), found.menu_reason),
        form=form,
        info=info,
        **nomenclature(ctx),
    )


async def ticket_or_404(ctx: Ctx, ticket_id: int) -> SupportTicket:
    found = await ctx.web.db(tickets.ticket, ctx.deps.records, ticket_id)
    if found is None:
        raise ctx.error(404, "Fiche introuvable", f"Aucune fiche n° {ticket_id}.")
    return found


@router.get("/support/fiches/{ticket_id}", response_class=HTMLResponse)
async def ticket_page(ctx: SupportCtx, ticket_id: RecordId, info: str = "") -> Response:
    return await render_ticket(ctx, await ticket_or_404(ctx, ticket_id), info=info)


@router.post("/support/fiches/{ticket_id}")
async def ticket_update(posted: SupportForm, ticket_id: RecordId) -> Response:
    ctx = posted.ctx
    found = await ticket_or_404(ctx, ticket_id)
    form = check_ticket(ctx.deps.config(), ticket_input(posted))
    if form.errors:
        return await render_ticket(
            ctx, found, info="Fiche non modifiée : corrigez les champs signalés.", form=form
        )
    await ctx.web.db(
        tickets.update_ticket, ctx.deps.records, ticket_id, ctx.who.login, fields_of(form)
    )
    label = TICKET_STATUS_LABELS[form.status]
    return see_other(f"/support/fiches/{ticket_id}", f"Fiche n° {ticket_id} : {label}.")


@router.post("/support/escalades/{escalation_id}")
async def escalation_status(posted: SupportForm, escalation_id: RecordId) -> Response:
    """The former escalation form: changes the status of the escalation's ticket."""
    ctx = posted.ctx
    try:
        status = EscalationStatus(posted.field("statut"))
    except ValueError:
        return see_other("/support", "Statut inconnu.")
    if await ctx.web.db(queries.escalation, ctx.deps.records, escalation_id) is None:
        raise ctx.error(404, "Escalade introuvable", f"Aucune escalade n° {escalation_id}.")
    found = await ctx.web.db(queries.ticket_of_escalation, ctx.deps.records, escalation_id)
    if found is None:
        await ctx.web.db(
            ctx.deps.records.set_escalation_status, escalation_id, status, ctx.who.login
        )
    else:
        fields = TicketFields(found.motif, found.sub_motif, found.note, FROM_ESCALATION[status])
        await ctx.web.db(tickets.update_ticket, ctx.deps.records, found.id, ctx.who.login, fields)
    return see_other(
        "/support", f"Escalade n° {escalation_id} : {ESCALATION_LABELS[status.value]}."
    )
