"""The listener console: presence, the département's queue, the current call and its
context (audited), call-backs to place or mark done, numbers to flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ivr.records.models import AccountRole, Callback, CallbackStatus
from ivr.runtime.queries import ListenerCall, Presence, WaitingCall
from ivr.web import queries
from ivr.web.accounts import Principal
from ivr.web.callbacks import CallbackError
from ivr.web.formatting import (
    CALL_STATUS_LABELS,
    CALLBACK_LABELS,
    OUTCOME_LABELS,
    PRESENCE_LABELS,
    duration,
    presence_text,
    typed_number,
)
from ivr.web.routes.checks import ListenerCtx, ListenerForm, ListenerJson, Posted
from ivr.web.routes.common import ConsoleRoute, Ctx, JsonRefusalError, Web, see_other
from ivr.web.routes.params import RecordId
from routing.config import RoutingConfig
from routing.index import RouteIndex
from sisiao_link.port import Composition

router = APIRouter(route_class=ConsoleRoute)

CHOSEN_PRESENCES = (Presence.AVAILABLE, Presence.PAUSED, Presence.OFFLINE)


def listener_dep(who: Principal, dep: str | None) -> str | None:
    """The département the listener acts for: the one asked if it is theirs, their first
    one when none is asked; None when the one asked is not theirs."""
    mine = who.departements(AccountRole.LISTENER)
    if dep is None or dep == "":
        return mine[0] if mine else None
    return dep if dep in mine else None


@dataclass(slots=True)
class ListenerPost:
    """A listener's checked form and the département it acts for."""

    ctx: Ctx
    posted: Posted
    departement: str

    def field(self, name: str) -> str:
        return self.posted.field(name)


async def listener_post(posted: ListenerForm) -> ListenerPost:
    """A dependency: a listener's form for one of their départements (else 403)."""
    departement = listener_dep(posted.ctx.who, posted.field("dep"))
    if departement is None:
        raise posted.ctx.forbidden()
    return ListenerPost(posted.ctx, posted, departement)


ListenerDepForm = Annotated[ListenerPost, Depends(listener_post)]


# --------------------------------------------------------------------------- what the page shows


def queue_rows(web: Web, waiting: list[WaitingCall]) -> list[dict[str, Any]]:
    now = web.deps.clock()
    rows = []
    for call in waiting:
        wait = (now - call.started_at).total_seconds() if call.started_at else None
        rows.append(
            {
                "position": call.position,
                "wait_s": wait,
                "wait": duration(wait) if wait is not None else "inconnue",
            }
        )
    return rows


def how_found(config: RoutingConfig, call: ListenerCall) -> str:
    route = RouteIndex(config).route(call.called)
    if route is not None and route.departement is not None:
        return "par le numéro 115 composé (réseau)"
    if call.heard_departement_menu:
        return "par la réponse de l'appelant au menu des départements"
    return "par géolocalisation (numéro de l'appelant ou position AML)"


def aml_position(web: Web, caller: str | None) -> dict[str, Any] | None:
    """The caller's latest AML position, where it puts them."""
    if not caller:
        return None
    now = web.deps.clock()
    report = web.deps.positions.latest(caller, now)
    if report is None:
        return None
    answer = web.deps.locator.from_aml_report(report, now)
    return {
        "lat": f"{report.lat:.5f}",
        "lon": f"{report.lon:.5f}",
        "accuracy": f"{report.accuracy_m:.0f} m" if report.accuracy_m is not None else "inconnue",
        "age": duration(report.age_seconds(now)),
        "method": report.method_label,
        "departement": answer.departement,
        "commune": answer.commune_name,
        "detail": answer.detail,
    }


def call_context(web: Web, who: Principal, call: ListenerCall) -> dict[str, Any]:
    """The current call's context for the listener, audited as a read of personal data
    (blocking: runs in a worker thread)."""
    deps = web.deps
    now = deps.clock()
    config = deps.config()
    caller = call.caller
    position = aml_position(web, caller)
    earlier = queries.calls_from(deps.records, caller, exclude=call.call_id) if caller else []
    flag = queries.flag_of(deps.records, caller) if caller else None
    dep_config = config.departement(call.departement)
    deps.records.audit(
        who.login,
        "read",
        "call",
        call.call_id,
        {"champs": ["numero", "position", "appels_precedents", "signalement"]},
    )
    elapsed = max(0.0, (now - call.started_at).total_seconds()) if call.started_at else None
    return {
        "call_id": call.call_id,
        "status": CALL_STATUS_LABELS[call.status],
        "caller": caller,
        "departement": call.departement,
        "departement_name": dep_config.name if dep_config else call.departement,
        "found_by": how_found(config, call),
        "since": duration(elapsed) if elapsed is not None else "",
        "since_seconds": int(elapsed) if elapsed is not None else None,  # depuis.js ticks on
        "position": position,
        "earlier": earlier,
        "flag": flag,
    }


# --------------------------------------------------------------------------- pages


@router.get("/console", response_class=HTMLResponse)
async def console(
    ctx: ListenerCtx, dep: str | None = None, info: str = "", recherche: str = ""
) -> Response:
    web, who = ctx.web, ctx.who
    departement = listener_dep(who, dep)
    if departement is None:
        raise ctx.forbidden(f"Vous n'êtes pas écoutant du département {dep}.")
    calls = web.deps.calls
    activity = await calls.listener_activity(departement, who.phone)
    presence, found = activity.presence, activity.call
    queue = queue_rows(web, await calls.waiting_calls(departement))
    context = await web.db(call_context, web, who, found) if found else None
    pending, done = await web.db(queries.callbacks_of, web.deps.records, departement)
    if pending or done:
        await ctx.audit("read", "callback_list", departement, nombre=len(pending) + len(done))
    demandes = await web.db(web.deps.outbox.list_for_user, who.login, 20)
    dep_config = web.deps.config().departement(departement)
    return ctx.render(
        "console.html",
        departement=departement,
        departement_name=dep_config.name if dep_config else departement,
        departements=who.departements(AccountRole.LISTENER),
        presence=presence,
        presence_label=presence_text(activity),
        presences=[(p.value, PRESENCE_LABELS[p]) for p in CHOSEN_PRESENCES],
        queue=queue,
        call=context,
        pending=pending,
        done=done,
        can_call_back=web.deps.callbacks is not None and bool(who.phone),
        callback_labels=CALLBACK_LABELS,
        outcome_labels=OUTCOME_LABELS,
        demandes=demandes,
        compositions=[c.value for c in Composition],
        info=info,
        lookup_id=recherche if recherche in web.lookup_owners else "",
    )


@router.get("/console/etat.json")
async def console_state(ctx: ListenerJson, dep: str | None = None) -> Response:
    """Queue and current call id, for the page's polling (no personal data)."""
    departement = listener_dep(ctx.who, dep)
    if departement is None:
        raise JsonRefusalError(403, "Accès refusé.")
    calls = ctx.deps.calls
    activity = await calls.listener_activity(departement, ctx.who.phone)
    found = activity.call
    return JSONResponse(
        {
            "presence": activity.presence.value,
            "presence_label": presence_text(activity),
            "queue": queue_rows(ctx.web, await calls.waiting_calls(departement)),
            "call_id": found.call_id if found else None,
            "call_status": CALL_STATUS_LABELS[found.status] if found else None,
            "banner": ctx.web.safe_banner(),
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post("/console/disponibilite")
async def set_presence(posted: ListenerDepForm) -> Response:
    ctx, departement = posted.ctx, posted.departement
    try:
        presence = Presence(posted.field("presence"))
    except ValueError:
        presence = Presence.BUSY
    if presence is Presence.BUSY or not ctx.who.phone:
        return see_other(f"/console?dep={departement}", "Disponibilité non modifiée.")
    await ctx.deps.calls.set_listener_presence(departement, ctx.who.phone, presence)
    await ctx.audit("presence", "listener", departement, presence=presence.value)
    return see_other(f"/console?dep={departement}", f"Vous êtes {PRESENCE_LABELS[presence]}.")


@router.post("/console/signalements")
async def flag(posted: ListenerDepForm) -> Response:
    ctx, departement = posted.ctx, posted.departement
    number, reason = typed_number(posted.field("numero")), posted.field("motif")
    if not number or not reason:
        return see_other(
            f"/console?dep={departement}",
            "Pour signaler un numéro, indiquez le numéro et le motif.",
        )
    await ctx.web.db(ctx.deps.records.flag_number, number, reason, ctx.who.login, departement)
    return see_other(f"/console?dep={departement}", "Numéro signalé.")


# --------------------------------------------------------------------------- call-backs


async def listener_callback(posted: ListenerForm, callback_id: RecordId) -> tuple[Ctx, Callback]:
    """A dependency: a listener's POST on a call-back of one of their départements."""
    ctx = posted.ctx
    found = await ctx.web.db(queries.callback, ctx.deps.records, callback_id)
    if found is None or found.departement not in ctx.who.departements(AccountRole.LISTENER):
        raise ctx.forbidden()
    return ctx, found


ListenerCallback = Annotated[tuple[Ctx, Callback], Depends(listener_callback)]


@router.post("/console/rappels/{callback_id}")
async def callback_done(checked: ListenerCallback, callback_id: RecordId) -> Response:
    ctx, found = checked
    await ctx.web.db(ctx.deps.records.complete_callback, callback_id, ctx.who.login)
    return see_other(f"/console?dep={found.departement}", "Rappel noté comme fait.")


@router.post("/console/rappels/{callback_id}/appeler")
async def callback_place(checked: ListenerCallback, callback_id: RecordId) -> Response:
    """Ring the listener's phone, then the person's, presenting the call-back number."""
    ctx, found = checked
    back = f"/console?dep={found.departement}"
    placer = ctx.deps.callbacks
    if found.status != CallbackStatus.REQUESTED.value:
        return see_other(back, "Ce rappel a déjà été traité.")
    if placer is None:
        return see_other(
            back,
            "Aucune téléphonie n'est configurée pour lancer le rappel : "
            "composez le numéro depuis votre poste.",
        )
    if not ctx.who.phone:
        return see_other(
            back, "Votre compte n'a pas de numéro de poste : un administrateur doit l'ajouter."
        )
    if not found.number:
        return see_other(back, "Ce rappel n'a pas de numéro.")
    try:
        placed = await placer.place(found.departement, ctx.who.phone, found.number)
    except CallbackError as exc:
        await ctx.audit("fail", "callback", str(callback_id), raison=str(exc))
        return see_other(
            back,
            f"Le rappel n'a pas pu être lancé : {exc}. "
            "Réessayez, ou composez le numéro depuis votre poste.",
        )
    await ctx.audit("place", "callback", str(callback_id), appel=placed)
    return see_other(
        back,
        "Rappel lancé : votre téléphone va sonner, puis celui de la personne "
        "(le 0 800 112 112 s'affiche chez elle). Marquez le rappel comme fait "
        "une fois l'échange terminé.",
    )
