"""Referents (tier 1): their départements' escalations, and a new one to the national
support."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from ivr.records.models import AccountRole
from ivr.web import queries
from ivr.web.formatting import ESCALATION_LABELS, escalation_reasons
from ivr.web.routes.checks import ReferentCtx, ReferentForm
from ivr.web.routes.common import ConsoleRoute, see_other

router = APIRouter(route_class=ConsoleRoute)


@router.get("/referent", response_class=HTMLResponse)
async def referent_page(ctx: ReferentCtx, info: str = "") -> Response:
    mine = ctx.who.departements(AccountRole.REFERENT)
    tickets = await ctx.web.db(queries.escalations, ctx.deps.records, departements=mine)
    return ctx.render(
        "referent.html",
        departements=mine,
        reasons=escalation_reasons(ctx.deps.config()),
        tickets=tickets,
        status_labels=ESCALATION_LABELS,
        info=info,
    )


@router.post("/referent/escalades")
async def escalate(posted: ReferentForm) -> Response:
    ctx = posted.ctx
    departement, reason = posted.field("dep"), posted.field("motif")
    if departement not in ctx.who.departements(AccountRole.REFERENT):
        raise ctx.forbidden()
    if reason not in escalation_reasons(ctx.deps.config()):
        return see_other("/referent", "Choisissez un motif de la nomenclature.")
    await ctx.web.db(
        ctx.deps.records.escalate,
        reason_code=reason,
        by=ctx.who.login,
        note=posted.field("note"),
        call_id=posted.field("call_id") or None,
        departement=departement,
    )
    return see_other("/referent", "Escalade transmise au support national.")
