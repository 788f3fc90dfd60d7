"""National support (tier 2): every escalation, with the caller's number (audited), and
its status."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from ivr.records.models import EscalationStatus
from ivr.web import queries
from ivr.web.formatting import ESCALATION_LABELS, escalation_reasons
from ivr.web.routes.checks import SupportCtx, SupportForm
from ivr.web.routes.common import ConsoleRoute, see_other
from ivr.web.routes.params import RecordId

router = APIRouter(route_class=ConsoleRoute)


@router.get("/support", response_class=HTMLResponse)
async def support_page(ctx: SupportCtx, statut: str = "", info: str = "") -> Response:
    records = ctx.deps.records
    status = statut if statut in ESCALATION_LABELS else ""
    tickets = await ctx.web.db(queries.escalations, records, status=status or None)
    call_ids = [t.call_id for t in tickets if t.call_id]
    callers = await ctx.web.db(queries.callers_of, records, call_ids)
    if callers:
        await ctx.audit("read", "escalation_callers", None, appels=sorted(callers))
    return ctx.render(
        "support.html",
        tickets=tickets,
        callers=callers,
        reasons=escalation_reasons(ctx.deps.config()),
        status_labels=ESCALATION_LABELS,
        statut=status,
        info=info,
    )


@router.post("/support/escalades/{escalation_id}")
async def escalation_status(posted: SupportForm, escalation_id: RecordId) -> Response:
    ctx = posted.ctx
    try:
        status = EscalationStatus(posted.field("statut"))
    except ValueError:
        return see_other("/support", "Statut inconnu.")
    if await ctx.web.db(queries.escalation, ctx.deps.records, escalation_id) is None:
        return HTMLResponse("Escalade introuvable.", status_code=404)
    await ctx.web.db(ctx.deps.records.set_escalation_status, escalation_id, status, ctx.who.login)
    return see_other(
        "/support", f"Escalade n° {escalation_id} : {ESCALATION_LABELS[status.value]}."
    )
