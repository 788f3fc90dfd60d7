"""SI SIAO from the listener console: a household search by phone (polled by the page),
and an emergency request (« demande d'urgence ») queued in the outbox."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from ivr.records.periods import read_day
from ivr.web.formatting import typed_number
from ivr.web.routes.checks import ListenerForm, ListenerJson
from ivr.web.routes.common import MAX_LOOKUPS_REMEMBERED, ConsoleRoute, JsonRefusalError, see_other
from ivr.web.routes.listener import ListenerDepForm, ListenerPost, listener_dep
from sisiao_link.lookup import LookupResult, LookupState, UnknownLookupError
from sisiao_link.port import Composition, NouvelleDemandeUrgence, NouvellePersonne, Sexe

OLDEST_BIRTH = date(1900, 1, 1)

router = APIRouter(route_class=ConsoleRoute)

UNKNOWN_LOOKUP = "Recherche inconnue."


@router.post("/console/sisiao/recherche")
async def start_lookup(posted: ListenerForm) -> Response:
    ctx = posted.ctx
    departement = listener_dep(ctx.who, posted.field("dep"))
    number = typed_number(posted.field("telephone"))  # SI SIAO searches E.164 numbers
    if departement is None or not number:
        return see_other(f"/console?dep={departement or ''}", "Indiquez un numéro de téléphone.")
    call_id = posted.field("call_id") or None
    lookup_id = ctx.deps.lookups.start_search_by_phone(number)
    owners = ctx.web.lookup_owners
    owners[lookup_id] = (ctx.who.login, call_id)
    while len(owners) > MAX_LOOKUPS_REMEMBERED:
        owners.popitem(last=False)
    await ctx.audit("read", "sisiao_household_search", call_id, numero_fin=number[-2:])
    if ctx.request.headers.get("accept", "").startswith("application/json"):
        return JSONResponse(
            {"lookup_id": lookup_id, "url": f"/console/sisiao/recherche/{lookup_id}"}
        )
    return see_other(f"/console?dep={departement}&recherche={lookup_id}")


@router.get("/console/sisiao/recherche/{lookup_id}")
async def lookup_result(ctx: ListenerJson, lookup_id: str) -> Response:
    owner = ctx.web.lookup_owners.get(lookup_id)
    if owner is None or owner[0] != ctx.who.login:
        raise JsonRefusalError(404, UNKNOWN_LOOKUP)
    try:
        result = ctx.deps.lookups.result(lookup_id)
    except UnknownLookupError:
        raise JsonRefusalError(404, UNKNOWN_LOOKUP) from None
    if result.state is LookupState.FOUND:
        await ctx.audit(
            "read", "sisiao_household", owner[1], menages=[m.id for m in result.menages]
        )
    return JSONResponse(lookup_json(result), headers={"Cache-Control": "no-store"})


def lookup_json(result: LookupResult) -> dict[str, Any]:
    """The search's state and the households found, for the page's script."""
    return {
        "state": result.state.value,
        "message": result.message,
        "reason": result.reason,
        "menages": [
            {
                "id": m.id,
                "composition": m.composition.value,
                "publics": [p.value for p in m.publics_specifiques],
                "membres": [
                    {
                        "nom": p.nom,
                        "prenom": p.prenom,
                        "date_naissance": p.date_naissance.strftime("%d/%m/%Y")
                        if p.date_naissance
                        else None,
                    }
                    for p in m.membres
                ],
                "demandes_ouvertes": [d.id for d in m.demandes_ouvertes],
            }
            for m in result.menages
        ],
    }


def demande_from(posted: ListenerPost) -> NouvelleDemandeUrgence:
    """The request the form describes: for a household found, or for a new person
    (``ValidationError`` / ``ValueError`` when incomplete)."""
    menage_id = posted.field("menage_id")
    if menage_id:
        return NouvelleDemandeUrgence(
            menage_id=menage_id,
            departement=posted.departement,
            observations=posted.field("observations"),
        )
    birth = posted.field("date_naissance")
    sexe = posted.field("sexe")
    composition = posted.field("composition")
    return NouvelleDemandeUrgence(
        nouvelle_personne=NouvellePersonne(
            nom=posted.field("nom"),
            prenom=posted.field("prenom"),
            date_naissance=read_day(birth) if birth else None,
            sexe=Sexe(sexe) if sexe else None,
            telephone=typed_number(posted.field("telephone")) or None,
        ),
        composition=Composition(composition) if composition else None,
        departement=posted.departement,
        observations=posted.field("observations"),
    )


@router.post("/console/demandes")
async def create_request(posted: ListenerDepForm) -> Response:
    ctx = posted.ctx
    back = f"/console?dep={posted.departement}"
    birth = posted.field("date_naissance")
    try:
        born = read_day(birth) if birth else None
    except ValueError:
        born = None
    if birth and (born is None or not OLDEST_BIRTH <= born <= ctx.deps.clock().date()):
        return see_other(
            back,
            f"Date de naissance « {birth[:40]} » invalide : saisissez-la en JJ/MM/AAAA "
            "(par exemple 05/03/1980). La demande n'a pas été créée.",
        )
    try:
        demande = demande_from(posted)
    except (ValidationError, ValueError):
        return see_other(
            back,
            "Demande incomplète : choisissez un ménage trouvé, "
            "ou indiquez au moins le nom et le prénom.",
        )
    call_id = posted.field("call_id") or None
    local_id = await ctx.web.db(ctx.deps.outbox.submit, demande, ctx.who.login, call_ref=call_id)
    await ctx.audit("create", "sisiao_demande", local_id, appel=call_id)
    return see_other(back, "Demande d'urgence enregistrée : en attente d'envoi à SI SIAO.")
