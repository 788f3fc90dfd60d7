"""What national support's pages show: the screen pop of an assistance call (département
and how it was found, menu reason, destinations tried and why they failed, earlier calls of
the number), the ticket labels and the support nomenclature's choices, and the check of a
ticket form (French messages by field)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ivr.records.models import TicketSource, TicketStatus
from ivr.runtime.queries import SupportCall
from ivr.web import queries
from ivr.web.accounts import Principal
from ivr.web.deps import ConsoleDeps
from ivr.web.formatting import CALL_STATUS_LABELS, duration, spaced_number
from routing.config import RoutingConfig, SupportMotif
from routing.departements import BY_CODE
from routing.index import RouteIndex

TICKET_STATUS_LABELS = {
    TicketStatus.NEW.value: "nouveau",
    TicketStatus.IN_PROGRESS.value: "en cours",
    TicketStatus.WAITING.value: "en attente de l'utilisateur",
    TicketStatus.RESOLVED.value: "résolu",
    TicketStatus.CLOSED.value: "clos",
}
TICKET_SOURCE_LABELS = {
    TicketSource.CALL.value: "appel répondu",
    TicketSource.OVERFLOW.value: "appel débordé",
    TicketSource.ESCALATION.value: "escalade du palier 1",
}
RESULT_LABELS = {
    "no-answer": "pas de réponse",
    "busy": "occupé",
    "failed": "échec de l'appel (poste injoignable)",
    "answered": "a répondu",
    "paused": "en pause (non sonné)",
    "offline": "hors ligne (non sonné)",
}
TIER_LABELS = {"tier1": "référent (palier 1)", "tier2": "support national (palier 2)"}
MAX_NOTE = 4000


def reason_text(config: RoutingConfig, code: str | None) -> str:
    """« Thème — Motif (niveau n) » of an assistance-menu reason; « aucun » when none."""
    if not code:
        return "aucun (pas de choix au menu des motifs)"
    for theme in config.national.nomenclature:
        for reason in theme.reasons:
            if reason.code == code:
                return f"{theme.label} — {reason.label} (niveau {reason.level})"
    return code


def departement_text(code: str | None) -> str:
    if not code:
        return "inconnu"
    dep = BY_CODE.get(code)
    return f"{code} — {dep.name}" if dep else code


def how_found(call: SupportCall) -> str:
    """How the assistance line learnt the caller's département."""
    if call.departement is None:
        if "menu_gave_up" in call.prompts:
            return (
                "non trouvé : l'appelant n'a pas choisi de département "
                f"({call.menu_tries} essai(s) au menu)"
            )
        return "non encore indiqué (l'appelant est au menu)"
    where = "au menu des départements"
    if "ask_corse" in call.prompts:
        where += " puis au sous-menu Corse"
    elif "ask_outremer" in call.prompts:
        where += " puis au sous-menu outre-mer"
    found = f"choisi par l'appelant {where} (touches du téléphone)"
    if call.menu_tries:
        found += f", après {call.menu_tries} essai(s) infructueux"
    return found


def _names(config: RoutingConfig, departement: str | None) -> dict[str, str]:
    names = {c.number: c.name for c in config.national.support.numbers}
    dep = config.departement(departement) if departement else None
    if dep is not None:
        names.update({c.number: c.name for c in dep.assistance.referents})
    return names


def tried_rows(config: RoutingConfig, call: SupportCall) -> list[dict[str, str]]:
    names = _names(config, call.departement)
    return [
        {
            "name": names.get(t.number, "poste inconnu du fichier"),
            "number": spaced_number(t.number),
            "tier": TIER_LABELS.get(t.role, t.role),
            "result": RESULT_LABELS.get(t.result, t.result),
        }
        for t in call.tried
        if t.result != "answered"
    ]


def tier1_note(config: RoutingConfig, call: SupportCall, now: datetime) -> str | None:
    """Why no referent was rung (None when some were)."""
    if any(t.role == "tier1" for t in call.tried):
        return None
    if call.departement is None:
        return "Aucun référent sollicité : département inconnu."
    dep = config.departement(call.departement)
    if dep is None or not dep.assistance.referents:
        return "Aucun référent sollicité : aucun référent n'est inscrit pour ce département."
    reason = config.national.reason(call.reason) if call.reason else None
    if reason is not None and reason.level == 2:
        return (
            "Aucun référent sollicité : motif de niveau 2, appel dirigé vers le support national."
        )
    if not RouteIndex(config).tier1_open(call.departement, now):
        return "Aucun référent sollicité : référents hors de leurs horaires d'ouverture."
    return "Aucun référent sollicité."


def screen_pop(deps: ConsoleDeps, who: Principal, call: SupportCall) -> dict[str, Any]:
    """The call's context for the agent, audited as a read of personal data (blocking)."""
    config, now = deps.config(), deps.clock()
    earlier = (
        queries.calls_from(deps.records, call.caller, exclude=call.call_id) if call.caller else []
    )
    deps.records.audit(
        who.login, "read", "call", call.call_id, {"champs": ["numero", "appels_precedents"]}
    )
    suggested = config.national.motif_for_reason(call.reason)
    elapsed = max(0.0, (now - call.started_at).total_seconds()) if call.started_at else None
    return {
        "call_id": call.call_id,
        "status": CALL_STATUS_LABELS[call.status],
        "caller": call.caller,
        "departement": call.departement,
        "departement_text": departement_text(call.departement),
        "found_by": how_found(call),
        "reason": call.reason,
        "reason_text": reason_text(config, call.reason),
        "tried": tried_rows(config, call),
        "tier1_note": tier1_note(config, call, now),
        "since": duration(elapsed) if elapsed is not None else "",
        "since_seconds": int(elapsed) if elapsed is not None else None,  # support.js ticks on
        "earlier": earlier,
        "suggested_motif": suggested.code if suggested else "",
    }


# --------------------------------------------------------------------------- ticket form


@dataclass(slots=True)
class TicketInput:
    """A ticket form as typed, and its French errors by field."""

    motif: str = ""
    sub_motif: str = ""
    note: str = ""
    status: str = TicketStatus.NEW.value
    answer: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def check_ticket(config: RoutingConfig, ticket: TicketInput) -> TicketInput:
    """Check a ticket form against the support nomenclature; a standard answer picked is
    added to the note. Errors go to ``ticket.errors`` by field name."""
    errors = ticket.errors
    motif = config.national.support_motif(ticket.motif) if ticket.motif else None
    if ticket.motif and motif is None:
        errors["motif"] = "Choisissez un motif de la nomenclature du support."
    if ticket.sub_motif:
        if motif is None:
            errors.setdefault("sous_motif", "Choisissez d'abord le motif de ce sous-motif.")
        elif motif.sub_motif(ticket.sub_motif) is None:
            errors["sous_motif"] = f"Ce sous-motif n'appartient pas au motif « {motif.label} »."
    if ticket.status not in TICKET_STATUS_LABELS:
        errors["statut"] = "Choisissez un statut de la liste."
    elif ticket.status in ("resolved", "closed") and not (ticket.motif and ticket.sub_motif):
        errors.setdefault(
            "sous_motif", "Un ticket résolu ou clos doit avoir un motif et un sous-motif."
        )
    if ticket.answer:
        answer = _answer(motif, ticket.answer)
        if answer is None:
            errors["reponse_type"] = "Cette réponse type n'appartient pas au motif choisi."
        elif answer not in ticket.note:
            ticket.note = f"{ticket.note}\n{answer}".strip()
            ticket.answer = ""
    if len(ticket.note) > MAX_NOTE:
        errors["note"] = f"La note dépasse {MAX_NOTE} caractères ({len(ticket.note)})."
    return ticket


def _answer(motif: SupportMotif | None, code: str) -> str | None:
    if motif is None:
        return None
    return next((a.text for a in motif.standard_answers if a.code == code), None)
