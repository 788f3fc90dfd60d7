"""The live wallboard ``/supervision``: admins (national: every département; départemental:
theirs) and listeners (their départements); the scope is chosen as the report's
(``perimetre``). The page draws the figures once, then ``static/supervision.js`` asks
``/supervision/etat.json`` every few seconds. No number or name is shown."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ivr.records.models import AccountRole
from ivr.records.periods import ReportInputError, Scope, parse_scope
from ivr.web import reporting, supervision
from ivr.web.accounts import Principal
from ivr.web.routes.checks import signed_in
from ivr.web.routes.common import ConsoleRoute, Ctx, JsonRefusalError

router = APIRouter(route_class=ConsoleRoute)

SUPERVISORS = (AccountRole.ADMIN_NATIONAL, AccountRole.ADMIN_DEPARTEMENT, AccountRole.LISTENER)
SupervisorCtx = Annotated[Ctx, Depends(signed_in(SUPERVISORS))]
SupervisorJson = Annotated[Ctx, Depends(signed_in(SUPERVISORS, json=True))]


def allowed_of(who: Principal) -> list[str] | None:
    """The départements a person supervises; None: every one (a national admin)."""
    if who.national_admin:
        return None
    mine = who.departements(AccountRole.ADMIN_DEPARTEMENT)
    mine += who.departements(AccountRole.LISTENER)
    return sorted(set(mine))


async def _board(ctx: Ctx, scope: Scope) -> supervision.Board:
    deps = ctx.deps
    return await supervision.build_board(
        deps.calls,
        deps.records,
        deps.config(),
        scope,
        deps.clock(),
        ctx.web.safe_banner,
        deps.timezone,
    )


@router.get("/supervision", response_class=HTMLResponse)
async def supervision_page(ctx: SupervisorCtx, perimetre: str = "") -> Response:
    allowed = allowed_of(ctx.who)
    common: dict[str, Any] = {
        "scopes": reporting.choices(allowed),
        "perimetre": perimetre,
        "refresh_s": supervision.REFRESH_S,
    }
    try:
        scope = parse_scope(perimetre, allowed)
    except ReportInputError as exc:
        return ctx.render("supervision.html", 400, board=None, error=exc.message, **common)
    board = await _board(ctx, scope)
    return ctx.render(
        "supervision.html",
        board=board,
        error=None,
        labels=supervision.DETERRENCE_LABELS,
        **common,
    )


@router.get("/supervision/etat.json")
async def supervision_state(ctx: SupervisorJson, perimetre: str = "") -> Response:
    try:
        scope = parse_scope(perimetre, allowed_of(ctx.who))
    except ReportInputError as exc:
        raise JsonRefusalError(400, exc.message) from None
    board = await _board(ctx, scope)
    return JSONResponse(board.as_json(), headers={"Cache-Control": "no-store"})
