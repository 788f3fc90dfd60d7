"""The simulated dialogue as a person reads it, in French."""

from __future__ import annotations

from typing import Any

from ivr.records.outcomes import DIAL_RESULT_TEXT, OUTCOME_TEXT
from ivr.sim.simulator import SimulatedCall, Step
from routing.phone import display_number

ROLES = {
    "tier1": "palier 1, référent SI",
    "tier2": "palier 2, support national",
    "listener": "écoutant",
    "lro": "LRO",
}
RESULTS = DIAL_RESULT_TEXT
OUTCOMES = OUTCOME_TEXT


def _number(value: object) -> str:
    return display_number(str(value)) if value else "numéro masqué"


def describe(step: Step) -> str:
    d: dict[str, Any] = step.data
    match step.kind:
        case "call":
            return f"Appel de {_number(d['caller'])} vers {_number(d['to'])}."
        case "answer":
            return "Décroché."
        case "play":
            return f"Message : « {d['text']} »"
        case "gather":
            return f"Menu : « {d['text']} »"
        case "keys":
            if d.get("typed_ahead"):
                return f"Réponse tapée d'avance : {d['keys']}."
            return f"L'appelant tape {d['keys']}."
        case "typed_ahead":
            return f"L'appelant tape {d['key']} pendant le message (gardé pour le menu)."
        case "interrupted":
            return "Message interrompu par la touche : on passe au menu."
        case "skipped":
            return "Message sauté (touche déjà tapée)."
        case "timeout":
            return f"Aucune touche pendant {d['seconds']} s."
        case "dial":
            role = ROLES.get(d["role"], d["role"])
            result = RESULTS.get(d["result"], d["result"])
            return f"Sonne : {d['name']} ({_number(d['number'])}, {role}) : {result}."
        case "support_away":
            result = RESULTS.get(d["result"], d["result"])
            return f"{d['name']} ({_number(d['number'])}, {ROLES['tier2']}) : {result}."
        case "enqueue":
            return f"Mis en file d'attente du 115 du {d['departement']}."
        case "dequeue":
            return f"Retiré de la file d'attente du {d['departement']}."
        case "hold":
            return "Musique d'attente."
        case "listener_offered":
            return f"Écoutant libre : {d['name']}."
        case "recording_started":
            return "Enregistrement démarré."
        case "recording_stopped":
            return "Enregistrement arrêté."
        case "callback_registered":
            return f"Rappel enregistré pour le {_number(d['number'])} (115 du {d['departement']})."
        case "conversation_end":
            return f"Fin de la communication après {d['seconds']} s."
        case "caller_hangup":
            return "L'appelant raccroche."
        case "hangup":
            return f"Raccroché ({OUTCOMES.get(d['outcome'], d['outcome'])})."
    return step.kind


def render_text(call: SimulatedCall) -> str:
    lines = [f"[{step.t:6.0f} s] {describe(step)}" for step in call.steps]
    summary = call.summary()
    outcome = OUTCOMES.get(summary["outcome"] or "", summary["outcome"])
    connected = summary["connected_to"]
    line = "ligne d'assistance" if summary["line"] == "assistance" else "115"
    result = f"Résultat : {outcome}"
    if connected:
        result += f" avec {_number(connected)} ({ROLES.get(summary['connected_role'], '')})"
    result += f". Ligne : {line}. Département : {summary['departement'] or 'inconnu'}."
    lines.append(result)
    return "\n".join(lines)


def step_json(step: Step) -> dict[str, Any]:
    return {"type": "step", "t": step.t, "kind": step.kind, **step.data}
